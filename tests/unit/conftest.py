"""Unit tests need no model: loading one here fails the test (real-model tests live in tests/integration/)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a unit test loaded an embedding model; it belongs in tests/integration/")

    monkeypatch.setattr("bot.retrieval.embedder.load_embedder", refused)
    monkeypatch.setattr("bot.retrieval.embedder.TorchEmbedder.__init__", refused)
    monkeypatch.setattr("bot.retrieval.embedder.OnnxEmbedder.__init__", refused)
