"""What the tests share: settings in a temporary folder, the fake Bot API, the web app under test, small
knowledge bases and models. Fixtures live in `tests/conftest.py`; these are plain helpers."""
