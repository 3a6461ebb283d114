"""Shared fixtures: settings pointing into a temporary folder, and a demo index built once with the real model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import postgres_server
from support.workspace import (
    DEMO_KB,
    build_index,
    make_settings,
)

from bot.app.runtime import open_runtime
from bot.settings import Settings
from bot.storage.database import Database

pytest_plugins = ("support.fault_suite",)  # the fault suite's table at the end of every run


@pytest.fixture(scope="session")
def tuned_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model, fine-tuned first when this machine lacks it (minutes, once; `make test` builds it before
    pytest). Loading a model never trains it, so a test that answers with the demo's model requests this fixture
    (directly, through the demo fixtures, or with `pytest.mark.usefixtures("tuned_model")`)."""
    from ingest.tuning import ensure_tuned_model

    return ensure_tuned_model(make_settings(tmp_path_factory.mktemp("tuning")))


@pytest.fixture(scope="session")
def demo_index_template(tuned_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo knowledge base indexed once per test session; copy it with `demo_workspace`."""
    folder = tmp_path_factory.mktemp("demo-template")
    shutil.copytree(DEMO_KB, folder / "kb")
    build_index(make_settings(folder), folder / "kb")
    return folder


@pytest.fixture
def demo_workspace(demo_index_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo kb/ and its index: tests may change both and may own the store."""
    shutil.copytree(demo_index_template / "kb", tmp_path / "kb")
    shutil.copytree(demo_index_template / "index", tmp_path / "index")
    return tmp_path


@pytest.fixture
def demo_settings(demo_workspace: Path) -> Settings:
    return make_settings(demo_workspace)


@pytest.fixture
def demo_runtime(demo_settings: Settings) -> Iterator[object]:
    """A Runtime (engine, database, conversations) over a private copy of the demo index."""

    runtime = open_runtime(demo_settings)
    yield runtime
    runtime.close()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """The shared database of a bot whose files live in `tmp_path` (closed after the test)."""
    db = Database(make_settings(tmp_path).database_url)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server (Debian's), started once on 127.0.0.1 for the run; tests use databases of their own
    or tables that do not collide."""
    with postgres_server() as url:
        yield url
