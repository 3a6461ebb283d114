"""Answering at once on the base model while the tuned one is built, then swapping to it without a restart.

A fresh machine has no tuned model, and fine-tuning takes minutes. So `tanya serve` answers on the tune base
model (in a collection of its own, with a self-calibration for it) from the start, fine-tunes in a child process
(niced, so answering stays quick; `tanya tune --if-missing`, which waits on the lock of any other process tuning
the same model), embeds the knowledge base into the tuned model's collection, calibrates it, and swaps engine,
index and calibration in one step. Questions asked meanwhile are answered by the old model up to the swap and by
the new one after it. A restart in the middle starts over on the base model's collection; a finished tuning is
kept, so the next start serves the tuned model directly.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.settings import Settings
from bot.tuning import TuningProgress, is_tuned, read_manifest, read_progress, tuned_kb_dir, tuned_model_folder

if TYPE_CHECKING:
    from bot.engine import AnswerEngine
    from ingest.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

BASE_COLLECTION_SUFFIX = "_base"
_STOP_SECONDS = 10.0
_CHILD_NICENESS = 10


def needs_tuning(settings: Settings) -> bool:
    """Whether the settings' model is a tuned model this machine has not built yet."""
    return is_tuned(settings.embedding_model) and read_manifest(tuned_model_folder(settings)) is None


def base_model_settings(settings: Settings) -> Settings:
    """What to answer with until the tuned model is ready: its base model, in a collection of its own."""
    return settings.model_copy(
        update={
            "embedding_model": settings.tune_base_model,
            "collection": settings.collection + BASE_COLLECTION_SUFFIX,
        }
    )


class Phase(StrEnum):
    TUNING = "tuning"
    EMBEDDING = "embedding"
    CALIBRATING = "calibrating"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class UpgradeStatus:
    """Where an upgrade to the tuned model stands (the staff page shows it)."""

    serving_model: str
    phase: Phase
    progress: TuningProgress | None = None
    error: str | None = None


class ModelUpgrade:
    """Builds the tuned model of `target` in the background and swaps `engine` over to it."""

    def __init__(self, target: Settings, engine: AnswerEngine) -> None:
        self.target = target
        self.engine = engine
        self._phase = Phase.TUNING
        self._error: str | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tanya-model-upgrade", daemon=True)

    def start(self) -> ModelUpgrade:
        log.warning(
            "No tuned model on this machine yet: answering with %s while %s is fine-tuned on %s in the background; "
            "Tanya switches to it by itself when it is ready (progress in this log and on the staff page)",
            self.engine.model,
            self.target.tune_base_model,
            tuned_kb_dir(self.target.embedding_model),
        )
        self._thread.start()
        return self

    def status(self) -> UpgradeStatus:
        progress = read_progress(self.target) if self._phase == Phase.TUNING else None
        return UpgradeStatus(self.engine.model, self._phase, progress, self._error)

    def wait(self, timeout: float) -> bool:
        """Wait until the upgrade ended (ready or failed); False when `timeout` seconds passed first."""
        return self._done.wait(timeout)

    def stop(self) -> None:
        """Stop a tuning under way (the next start begins it again) and let the thread end."""
        self._stopping.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self._thread.is_alive():
            self._thread.join(_STOP_SECONDS)

    # ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            started = time.monotonic()
            if not self._tune():
                return
            log.info(
                "Fine-tuned in %.0f s; embedding the knowledge base with the tuned model", time.monotonic() - started
            )
            self._switch()
            self._phase = Phase.READY
        except Exception as error:  # answering goes on with the base model
            log.exception("Building the tuned model failed; answering goes on with %s", self.engine.model)
            self._error = str(error) or type(error).__name__
            self._phase = Phase.FAILED
        finally:
            self._done.set()

    def _tune(self) -> bool:
        """Fine-tune in a child process; False when stopped."""
        env = {
            **os.environ,
            "TANYA_EMBEDDING_MODEL": f"tuned:{tuned_kb_dir(self.target.embedding_model)}",
            "TANYA_TUNE_BASE_MODEL": self.target.tune_base_model,
            "TANYA_TUNE_EPOCHS": str(self.target.tune_epochs),
            "TANYA_MODEL_CACHE_DIR": str(self.target.model_cache_dir.resolve()),
        }
        command = [sys.executable, "-m", "bot.cli", "tune", "--if-missing", "--quiet"]
        self._child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        os.setpriority(os.PRIO_PROCESS, self._child.pid, _CHILD_NICENESS)  # answering goes first on a small machine
        while self._child.poll() is None:
            if self._stopping.wait(1.0):
                return False
        if self._child.returncode != 0 or read_manifest(tuned_model_folder(self.target)) is None:
            raise RuntimeError(f"`tanya tune` ended with exit code {self._child.returncode} (its log is above)")
        return not self._stopping.is_set()

    def _knowledge_base(self) -> KnowledgeBase:
        from ingest.knowledge_base import load_knowledge_base

        return load_knowledge_base([self.target.kb_dir], self.target.kb_dir)

    def _switch(self) -> None:
        """Embed the knowledge base into the tuned model's collection, calibrate it, catch up with editors' saves
        made meanwhile, and swap."""
        from bot.embedder import load_embedder
        from ingest.sync import sync_index

        self._phase = Phase.EMBEDDING
        knowledge_base = self._knowledge_base()  # a broken kb/ fails the upgrade here, before anything is reset
        index = self.engine.index.sibling(self.target, load_embedder(self.target))
        if index.other_model() is not None:
            index.reset()
        sync_index(index, knowledge_base, show_progress=False)
        self._phase = Phase.CALIBRATING
        serving = self.engine.prepare(index)
        old = self.engine.index
        with self.engine.content_lock:  # no editor's save between the catch-up and the swap
            caught_up = sync_index(index, self._knowledge_base(), show_progress=False)
            self.engine.swap(serving)
            if caught_up.added or caught_up.updated or caught_up.removed:
                self.engine.refresh()
        if old is not index:
            old.drop()
