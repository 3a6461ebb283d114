"""Tiny knowledge bases whose own phrasings tune a model in seconds."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings
from support.cli import KB_FILES, write_kb
from support.workspace import make_settings


def tiny_settings(folder: Path, **overrides: object) -> Settings:
    write_kb(folder, dict(KB_FILES))
    values: dict[str, object] = {
        "embedding_model": f"tuned:{folder / 'kb'}",
        "model_cache_dir": folder / "models",
        "tune_epochs": 1,
        "tune_on": "kb",  # a small kb's own phrasings tune in seconds; the shipped corpus takes minutes
    }
    values.update(overrides)
    return make_settings(folder, **values)
