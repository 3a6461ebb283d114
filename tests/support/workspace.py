"""Settings whose files live in a temporary folder, the demo knowledge base and the shared model cache."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.embedder import load_embedder
from bot.retrieval.knowledge_index import KnowledgeIndex
from bot.settings import Settings
from ingest.knowledge_base import load_knowledge_base
from ingest.sync import sync_index

REPO = Path(__file__).resolve().parents[2]
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
    from bot.retrieval.model_files import model_cache_key
    from bot.settings import BUNDLED_MODEL

    load_embedder(Settings(embedding_model=BUNDLED_MODEL, model_cache_dir=MODEL_CACHE, _env_file=None))  # type: ignore[call-arg]
    return MODEL_CACHE / model_cache_key(BUNDLED_MODEL)


def build_index(settings: Settings, kb_dir: Path) -> None:
    """Ingest `kb_dir` into the settings' store with the real model."""
    kb = load_knowledge_base([kb_dir], kb_dir)
    with KnowledgeIndex(settings, load_embedder(settings), writable=True) as index:
        sync_index(index, kb, show_progress=False)
