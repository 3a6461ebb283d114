"""Shared fixtures: settings pointing into a temporary folder, and a demo index built once with the real model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.database import Database
from bot.embedder import load_embedder
from bot.knowledge_index import KnowledgeIndex
from bot.settings import Settings
from ingest.knowledge_base import load_knowledge_base
from ingest.sync import sync_index

pytest_plugins = ("fault_suite",)  # the fault suite's table at the end of every run

REPO = Path(__file__).resolve().parent.parent
DEMO_KB = REPO / "kb"
HELDOUT_KB = REPO / "evals" / "heldout" / "kb"
# The fine-tuned model and its ONNX export are made once per machine and shared by every test (and `make run`).
MODEL_CACHE = REPO / "var" / "models"
# The production default (`tuned:kb`), named by absolute path so tests with their own kb/ still use it.
TEST_MODEL = f"tuned:{DEMO_KB}"


def make_settings(folder: Path, **overrides: object) -> Settings:
    """Settings whose kb/, index and database live in `folder` (nothing read from the environment); the labelled
    calibration is the one in that kb/ folder, as in production."""
    values: dict[str, object] = {
        "kb_dir": folder / "kb",
        "store_dir": folder / "index",
        "database_url": f"sqlite:///{folder / 'tanya.db'}",
        "model_cache_dir": MODEL_CACHE,
        "embedding_model": TEST_MODEL,
        "chroma_host": None,
        "telegram_bot_token": None,
        "retune_after_changes": 0,  # a test's kb edits must never start a real re-tune in the shared model cache
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def bundled_onnx_export() -> Path:
    """The bundled model's ONNX export in the shared model cache, made on first use (seconds, once per machine),
    for tests of a fresh machine to copy: what they test is what comes after it."""
    from bot.model_files import model_cache_key
    from bot.settings import BUNDLED_MODEL

    load_embedder(Settings(embedding_model=BUNDLED_MODEL, model_cache_dir=MODEL_CACHE, _env_file=None))  # type: ignore[call-arg]
    return MODEL_CACHE / model_cache_key(BUNDLED_MODEL)


def build_index(settings: Settings, kb_dir: Path) -> None:
    """Ingest `kb_dir` into the settings' store with the real model."""
    kb = load_knowledge_base([kb_dir], kb_dir)
    with KnowledgeIndex(settings, load_embedder(settings), writable=True) as index:
        sync_index(index, kb, show_progress=False)


@pytest.fixture(scope="session", autouse=True)
def tuned_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fine-tune the default model first (minutes, once per machine) so no later test waits on it under a timeout."""
    from bot.tuning import ensure_tuned_model

    return ensure_tuned_model(make_settings(tmp_path_factory.mktemp("tuning")))


@pytest.fixture(scope="session")
def demo_index_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
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
    from bot.runtime import Runtime

    runtime = Runtime.open(demo_settings)
    yield runtime
    runtime.close()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """The shared database of a bot whose files live in `tmp_path` (closed after the test)."""
    db = Database(make_settings(tmp_path).database_url)
    yield db
    db.dispose()
