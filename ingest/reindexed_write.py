"""Changing one kb/ file and re-indexing it as one step, so the index never stays out of step with kb/.

The file is replaced atomically, then re-indexed. When the re-index fails (a knowledge-base problem, the store, the
engine's refresh), the old file is put back and re-indexed in turn: a re-index that failed half-way (or after it
wrote the index) is undone in the index too. Used by the web editor's FAQ saves and document uploads.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ingest.problems import KnowledgeBaseError

Reindex = Callable[[Path], object]


def describe(error: Exception) -> str:
    """An error in words for an editor: a knowledge-base problem as it is listed, else the error's own message."""
    if isinstance(error, KnowledgeBaseError):
        return "; ".join(str(p) for p in error.problems)
    return str(error) or type(error).__name__


class ReindexError(Exception):
    """Re-indexing a changed file failed; the old file is back (a new one gone), and re-indexed unless
    `restore_error` says why not."""

    def __init__(self, shown: str, cause: Exception, restore_error: Exception | None, *, was_new: bool) -> None:
        self.cause = cause
        self.restore_error = restore_error
        undone = "the new file was taken out again" if was_new else "the previous version was put back"
        message = f"{shown} could not be indexed ({describe(cause)}); {undone}"
        if restore_error is None:
            message += " and the index matches it"
        else:
            message += (
                f", but re-indexing it failed too ({describe(restore_error)}): the index catches up with kb/ at the "
                "next start of Tanya"
            )
        super().__init__(message)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step (a reader sees the old file or the new one), keeping its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_and_reindex(path: Path, data: bytes, reindex: Reindex | None, shown: str) -> object:
    """Write `data` to `path` and return what `reindex(path)` returns; when it fails, put the old file back (remove
    a new one), re-index that (the folder, for a removed file, so its records go) and raise ReindexError."""
    previous = path.read_bytes() if path.exists() else None
    atomic_write(path, data)
    if reindex is None:
        return None
    try:
        return reindex(path)
    except Exception as error:
        if previous is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write(path, previous)
        try:
            reindex(path if previous is not None else path.parent)
        except Exception as restore_error:
            raise ReindexError(shown, error, restore_error, was_new=previous is None) from error
        raise ReindexError(shown, error, None, was_new=previous is None) from error
