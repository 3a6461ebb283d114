"""Keeping the tuned model current: re-tuning after editors' changes by itself, without anyone running a command.

Editors' saves reach the live index at once, but as vectors of the weights tuned before them: their new phrasings
are learnt only by a re-tune. `tanya serve` counts the FAQ entries whose phrasings were added, changed or deleted
since the serving model was tuned (its manifest records a digest of each entry's, so the count is exact, covers
offline edits and survives restarts) and, once `retune_after_changes` is reached, or at `retune_nightly_hour` with
any change, starts a `ModelUpgrade` to the next generation: the same niced child process, embedding, calibration,
catch-up and swap as on the first run. A model tuned on the shipped corpus alone (`tune_on`, the default) learnt
no entry, so it is never due by count or at night. The first run's upgrade, one a restart interrupted and a
generation built by `tanya tune` by hand are started here too. One upgrade at a time; a failed one is tried again
once kb/ changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.engine import AnswerEngine
from bot.retrieval.tuned_models import (
    current_generation,
    generation,
    pinned,
    prune_generations,
    read_manifest,
    tuned_model_folder,
)
from bot.services.model_upgrade import ModelUpgrade, Phase
from bot.settings import Settings, is_tuned
from ingest.knowledge_base import load_knowledge_base
from ingest.problems import KnowledgeBaseError
from ingest.tuning import changed_entries

log = logging.getLogger(__name__)

CHECK_SECONDS = 60.0  # how often kb/ is looked at (files' times and sizes; read only when they changed)

Clock = Callable[[], datetime]
KbState = tuple[tuple[str, int, int], ...]


class ServingModel(Protocol):
    """What the scheduler needs of the process it keeps current (the `Runtime`): its engine and its upgrade."""

    engine: AnswerEngine
    upgrade: ModelUpgrade | None


def entries_text(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"


class RetuneScheduler:
    """Starts the upgrades that keep `runtime`'s tuned model current, each put in `runtime.upgrade` (where the
    staff page and `Runtime.close` find it). `target` is the process's settings; `clock` tells local time."""

    def __init__(
        self,
        target: Settings,
        runtime: ServingModel,
        *,
        clock: Clock | None = None,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.target = target
        self.runtime = runtime
        zone = ZoneInfo(target.office.timezone)
        self.clock: Clock = clock or (lambda: datetime.now(zone))
        self.check_seconds = check_seconds
        self.kb_dir = target.tuned_kb_dir
        self._started_on: KbState | None = None  # kb/ as it was when the last upgrade started
        self._nightly_done: date | None = None
        self._counted: tuple[tuple[KbState, int], int | None] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tanya-retune", daemon=True)

    def start(self) -> RetuneScheduler:
        """Delete generations older than the current one (left by `tanya tune` or a crash), start what is due now
        and look again every `check_seconds`."""
        prune_generations(pinned(self.target))
        manifest = read_manifest(tuned_model_folder(self.target))
        if manifest is not None and "phrasings" not in manifest:
            log.info("The tuned model predates counting editors' changes: they are counted from its next tuning")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(10.0)

    def check(self) -> ModelUpgrade | None:
        """Start the model upgrade due now; None when none is, or one is under way."""
        upgrade = self.runtime.upgrade
        if upgrade is not None and not upgrade.wait(0):
            return None
        state = self._kb_state()
        if upgrade is not None and upgrade.status().phase == Phase.FAILED and state == self._started_on:
            return None  # it would fail the same way: tried again once kb/ changes
        due = self._due()
        if due is None:
            return None
        target, reason = due
        self._started_on = state
        upgrade = ModelUpgrade(target, self.runtime.engine, reason)
        self.runtime.upgrade = upgrade.start()
        return upgrade

    def changes(self) -> int | None:
        """FAQ entries whose phrasings changed since the serving model was tuned (None: not counted, as for a
        model tuned before the count existed, the base model, or a kb/ file that cannot be read now)."""
        serving = self.runtime.engine.index.settings
        key = (self._kb_state(), generation(serving) if is_tuned(serving.model.embedding_model) else 0)
        counted = self._counted
        if counted is None or counted[0] != key:
            counted = self._counted = (key, self._count(serving) if key[1] else None)
            if counted[1]:
                after = self.target.tuning.retune_after_changes
                log.info(
                    "%s changed since the model was tuned%s",
                    entries_text(counted[1]),
                    f" (a re-tune starts at {after})" if after else "",
                )
        return counted[1]

    # ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:  # answering goes on; the next look tries again
                log.exception("Checking whether the tuned model is due a re-tune failed")
            if self._stopping.wait(self.check_seconds):
                return

    def _due(self) -> tuple[Settings, str] | None:
        """The settings of the model to build and take into use now, and why; None when nothing is due."""
        target = self.target
        current = current_generation(target)
        if read_manifest(tuned_model_folder(pinned(target, current))) is None:
            return target, "no tuned model on this machine yet"
        ahead = pinned(target, current + 1)
        if read_manifest(tuned_model_folder(ahead)) is not None:
            return ahead, f"generation {current + 1} was tuned before a restart"
        serving = self.runtime.engine.index.settings
        if not is_tuned(serving.model.embedding_model) or generation(serving) != current:
            return pinned(target, current), f"generation {current} of the tuned model is ready"
        if serving.index.collection != target.index.collection:
            return target, "resuming the re-tune a restart interrupted"
        count = self.changes()
        if not count:
            return None
        since = f"{entries_text(count)} changed since the model was tuned{self._tuned_at(serving)}"
        if target.tuning.retune_after_changes and count >= target.tuning.retune_after_changes:
            return target, since
        now = self.clock()
        if now.hour == target.tuning.retune_nightly_hour and self._nightly_done != now.date():
            self._nightly_done = now.date()
            return target, f"nightly re-tune at {now.hour:02d}:00: {since}"
        return None

    def _count(self, serving: Settings) -> int | None:

        try:
            kb = load_knowledge_base([self.kb_dir], self.kb_dir)
        except KnowledgeBaseError:  # the editor's fix (or the next save) is counted
            return None
        return changed_entries(serving, kb)

    def _kb_state(self) -> KbState:
        """kb/'s files by name, modification time and size: read again only when this changes."""
        state = []
        for path in sorted(self.kb_dir.rglob("*")):
            try:
                if path.is_file() and not _hidden(path, self.kb_dir):
                    stat = path.stat()
                    state.append((path.relative_to(self.kb_dir).as_posix(), stat.st_mtime_ns, stat.st_size))
            except FileNotFoundError:  # removed while this looked
                continue
        return tuple(state)

    def _tuned_at(self, serving: Settings) -> str:
        tuned = (read_manifest(tuned_model_folder(serving)) or {}).get("date")
        try:
            return f" ({datetime.fromisoformat(str(tuned)).astimezone(self.clock().tzinfo):%Y-%m-%d %H:%M})"
        except ValueError:
            return ""


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)
