"""Answering on while a tuned model is built in the background, then swapping to it without a restart.

A fresh machine has no tuned model, and fine-tuning takes minutes. So `tanya serve` answers on the tune base
model (in a stopgap collection, with a self-calibration for it) from the start, fine-tunes in a child process
(niced, so answering stays quick; `tanya tune --if-missing` for the generation being built, which waits on the lock
of any other process tuning), embeds the knowledge base into the serving collection with the tuned model,
calibrates it, and swaps engine, index and calibration in one step. A re-tune (`bot.services.model_retune` decides when)
builds the next generation the same way while the current one answers; once it is tuned, the serving index is
copied to the stopgap collection and answers from there, so the new one is built under the name every process
opens. Questions asked meanwhile are answered by the old model up to the swap and by the new one after it. A
restart in the middle serves the stopgap (the base model, or the previous generation) and starts again; finished
tunings are kept. After a swap the stopgap collection and the older generations are deleted.
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

from bot.engine import AnswerEngine
from bot.retrieval.embedder import load_embedder, model_identity
from bot.retrieval.knowledge_index import KnowledgeIndex
from bot.retrieval.tuned_models import (
    TuningProgress,
    generation,
    make_current,
    next_generation,
    pinned,
    prune_generations,
    read_manifest,
    read_progress,
    tuned_model_folder,
)
from bot.settings import Settings, is_tuned
from ingest.knowledge_base import KnowledgeBase, load_knowledge_base
from ingest.sync import sync_index

log = logging.getLogger(__name__)

STOPGAP_SUFFIX = "_stopgap"  # the collection answering while a tuned model is built under the serving one's name
_STOP_SECONDS = 10.0
_CHILD_NICENESS = 10


def needs_tuning(settings: Settings) -> bool:
    """Whether the settings' model is a tuned model this machine has not built yet."""
    return is_tuned(settings.model.embedding_model) and read_manifest(tuned_model_folder(settings)) is None


def stopgap_settings(settings: Settings) -> Settings:
    return settings.replaced(collection=settings.index.collection + STOPGAP_SUFFIX)


def base_model_settings(settings: Settings) -> Settings:
    """What to answer with until the first tuned model is ready: its base model, in the stopgap collection."""
    return stopgap_settings(settings).replaced(embedding_model=settings.tuning.base_model)


def serving_settings(settings: Settings) -> Settings:
    """What `tanya serve` answers with from its start: the base model on a first run, the previous generation's
    stopgap after a restart in the middle of a re-tune, else the current generation, pinned (so a re-tune never
    changes the weights under it)."""
    if not is_tuned(settings.model.embedding_model):
        return settings
    if needs_tuning(settings):
        return base_model_settings(settings)
    current = pinned(settings)
    stopgap = stopgap_settings(current)
    return stopgap if _holds_its_model(stopgap) else current


def _holds_its_model(settings: Settings) -> bool:
    """Whether the settings' collection holds records embedded with the settings' model."""

    with KnowledgeIndex(settings, load_embedder(settings), writable=False) as index:
        return index.count() > 0 and index.info().get("embedding_model") == model_identity(settings)


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
    reason: str | None = None  # why it was started ("12 entries changed since ...")
    retune: bool = False  # an earlier tuning answers meanwhile (not the base model)


class ModelUpgrade:
    """Builds the tuned model of `target` in the background and swaps `engine` over to it: the generation `target`
    pins, else the next one to build (the first, or the one after the current)."""

    def __init__(self, target: Settings, engine: AnswerEngine, reason: str | None = None) -> None:
        self.target = target if target.tuning.generation is not None else next_generation(target)
        self.engine = engine
        self.reason = reason
        self.retune = is_tuned(engine.model)
        self._phase = Phase.TUNING
        self._error: str | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tanya-model-upgrade", daemon=True)

    def start(self) -> ModelUpgrade:
        if self.retune:
            log.warning(
                "Re-tuning in the background (%s): generation %d of %s is built while generation %d answers; "
                "Tanya switches to it by itself when it is ready (progress in this log and on the staff page)",
                self.reason,
                generation(self.target),
                self.engine.model,
                generation(self.engine.index.settings),
            )
        else:
            log.warning(
                "No tuned model on this machine yet: answering with %s while %s is fine-tuned on %s in the "
                "background; Tanya switches to it by itself when it is ready (progress in this log and on the "
                "staff page)",
                self.engine.model,
                self.target.tuning.base_model,
                self.target.tuned_kb_dir,
            )
        self._thread.start()
        return self

    def status(self) -> UpgradeStatus:
        progress = read_progress(self.target) if self._phase == Phase.TUNING else None
        return UpgradeStatus(self.engine.model, self._phase, progress, self._error, self.reason, self.retune)

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
        except Exception as error:  # answering goes on with the model it has
            log.exception("Building the tuned model failed; answering goes on with %s", self.engine.model)
            self._error = str(error) or type(error).__name__
            self._phase = Phase.FAILED
        finally:
            self._done.set()

    def _tune(self) -> bool:
        """Fine-tune in a child process (unless a run before a restart finished it); False when stopped."""
        if read_manifest(tuned_model_folder(self.target)) is not None:
            return True
        env = {
            **os.environ,
            "TANYA_EMBEDDING_MODEL": f"tuned:{self.target.tuned_kb_dir}",
            "TANYA_TUNE_BASE_MODEL": self.target.tuning.base_model,
            "TANYA_TUNE_EPOCHS": str(self.target.tuning.epochs),
            "TANYA_TUNE_ON": self.target.tuning.on.value,
            **({"TANYA_TUNE_CORPUS_FILE": str(corpus.resolve())} if (corpus := self.target.tuning.corpus_file) else {}),
            "TANYA_MODEL_CACHE_DIR": str(self.target.model.cache_dir.resolve()),
            "TANYA_TUNED_GENERATION": str(generation(self.target)),
        }
        command = [sys.executable, "-m", "bot.app.cli", "tune", "--if-missing", "--quiet"]
        self._child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        os.setpriority(os.PRIO_PROCESS, self._child.pid, _CHILD_NICENESS)  # answering goes first on a small machine
        while self._child.poll() is None:
            if self._stopping.wait(1.0):
                return False
        if self._child.returncode != 0 or read_manifest(tuned_model_folder(self.target)) is None:
            raise RuntimeError(f"`tanya tune` ended with exit code {self._child.returncode} (its log is above)")
        return not self._stopping.is_set()

    def _knowledge_base(self) -> KnowledgeBase:

        return load_knowledge_base([self.target.kb_dir], self.target.kb_dir)

    def _switch(self) -> None:
        """Embed the knowledge base into the serving collection's name with the tuned model, calibrate it, catch up
        with editors' saves made meanwhile, swap, and make it the current generation."""

        self._phase = Phase.EMBEDDING
        knowledge_base = self._knowledge_base()  # a broken kb/ fails the upgrade here, before anything is reset
        embedder = load_embedder(self.target)  # its ONNX export (once) before the serving index moves
        if self.engine.index.settings.index.collection == self.target.index.collection:
            self._set_aside()
        index = self.engine.index.sibling(self.target, embedder)
        if index.other_model() is not None:
            index.reset()
        index.set_info(embedding_model=model_identity(self.target))  # half-built, never taken for the old model
        sync_index(index, knowledge_base, show_progress=False)
        self._phase = Phase.CALIBRATING
        serving = self.engine.prepare(index)
        old = self.engine.index
        with self.engine.content_lock:  # no editor's save between the catch-up and the swap
            caught_up = sync_index(index, self._knowledge_base(), show_progress=False)
            self.engine.swap(serving)
            if caught_up.added or caught_up.updated or caught_up.removed:
                self.engine.refresh()
        make_current(self.target)  # before the stopgap goes: a restart in between serves the stopgap and resumes
        if old is not index:
            self._retire(old)
            old.drop()
        prune_generations(self.target)

    def _set_aside(self) -> None:
        """Copy the serving index (vectors and all, no embedding) to the stopgap collection and answer from the
        copy, so the new model's index can be built under the serving collection's name."""
        serving = self.engine.index
        stopgap = serving.sibling(stopgap_settings(serving.settings), serving.embedder)
        with self.engine.content_lock:  # no editor's save between the copy and the swap
            _copy(serving, stopgap)
            self.engine.swap(self.engine.prepare(stopgap))  # its calibration is copied too: nothing to compute
        self._retire(serving)  # its collection is reset next, for the new model
        log.info("Answering from a copy of the index while generation %d is embedded", generation(self.target))

    def _retire(self, index: KnowledgeIndex) -> None:
        """Wait for the questions still reading a swapped-out index to end before its collection goes (Chroma
        fails a query on a collection deleted under it)."""
        if not self.engine.wait_until_unused(index):
            log.warning("A question still reads the old index after a minute; its collection goes anyway")


def _copy(source: KnowledgeIndex, target: KnowledgeIndex) -> None:
    """Make `target` hold exactly `source`'s records, vectors and facts."""
    records = list(source.records().values())
    vectors = source.vectors([r.id for r in records])
    target.reset()
    target.add(records, [vectors[r.id] for r in records])
    target.set_info(**{key: value for key, value in source.info().items() if not key.startswith("hnsw:")})
