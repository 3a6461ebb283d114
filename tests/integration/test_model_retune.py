"""Keeping the tuned model current: editors' changes start a re-tune by itself, which builds the next generation
while the current one answers, and swaps to it without a restart.

The knowledge base is the small one of the CLI tests, its first generation tuned once for one epoch (seconds) and
copied into each test's own model cache; re-tunes are real `tanya tune` child processes, so the shared default model
under var/models is never touched.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import chromadb
import pytest
from support.faq import fields_of
from support.tiny_models import tiny_settings
from support.upgrades import answered_throughout, ask

from bot.app import server
from bot.app.runtime import open_runtime
from bot.core.messages import Outcome
from bot.retrieval.embedder import load_embedder, model_identity
from bot.retrieval.model_files import model_cache_key
from bot.retrieval.tuned_models import current_generation, generation, make_current, pinned, tuned_model_folder
from bot.services.model_retune import RetuneScheduler
from bot.services.model_upgrade import STOPGAP_SUFFIX, ModelUpgrade, Phase, serving_settings
from bot.services.runtime import Runtime
from bot.services.staff_accounts import StaffAccounts
from bot.settings import Settings
from ingest.faq_editor import FaqEditor
from ingest.live_reindex import LiveReindexer
from ingest.tuning import ensure_tuned_model
from ui.staff_page import IDLE_STATUS_SECONDS, build_staff_page, model_status


@pytest.fixture(scope="module")
def first_generation(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The tiny knowledge base's first tuned generation and its ONNX export, built once for this module."""
    settings = tiny_settings(tmp_path_factory.mktemp("first-generation"))
    ensure_tuned_model(settings)
    load_embedder(settings)
    return settings


def copy_model(source: Settings, target: Settings) -> None:
    """Put `source`'s tuned model (and its ONNX export) where `target`'s generation is looked for."""
    folder = tuned_model_folder(target)
    shutil.copytree(tuned_model_folder(source), folder)
    export = source.model.cache_dir / model_cache_key(model_identity(source))
    shutil.copytree(export, target.model.cache_dir / model_cache_key(model_identity(target)))


@pytest.fixture
def tuned_machine(first_generation: Settings, tmp_path: Path) -> Settings:
    """Settings whose first tuned generation exists, tuned on the knowledge base as it is now."""
    settings = tiny_settings(tmp_path)
    copy_model(first_generation, settings)
    return settings


@pytest.fixture
def runtimes() -> Iterator[list[Runtime]]:
    """Runtimes a test opened, closed at its end (a restart closes one and opens another)."""
    opened: list[Runtime] = []
    yield opened
    for runtime in opened:
        runtime.close()


def open_as_served(settings: Settings, runtimes: list[Runtime]) -> Runtime:
    """A runtime as `tanya serve` opens it (the model to answer with chosen, the index in line with kb/)."""
    serving = serving_settings(settings)
    server._rebuild_if_the_model_changed(serving)
    runtime = open_runtime(serving)
    runtimes.append(runtime)
    server._sync_knowledge_base(runtime)
    runtime.engine.wait_for_calibration()
    return runtime


def editor_of(runtime: Runtime, settings: Settings) -> FaqEditor:
    return FaqEditor(settings.kb_dir, on_saved=LiveReindexer(runtime.engine, settings.kb_dir))


def fingerprint(settings: Settings) -> str:
    return model_identity(settings).rpartition("#")[2]


def collections(settings: Settings) -> set[str]:
    return {c.name for c in chromadb.PersistentClient(path=str(settings.index.store_dir)).list_collections()}


def test_editors_changes_start_a_re_tune_by_itself_and_the_server_swaps_to_new_weights(
    tuned_machine: Settings, runtimes: list[Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    settings = tuned_machine.replaced(retune_after_changes=2)
    runtime = open_as_served(settings, runtimes)
    first = tuned_model_folder(runtime.engine.index.settings)
    before = fingerprint(runtime.engine.index.settings)
    runtime.retunes = RetuneScheduler(settings, runtime, check_seconds=0.2).start()
    time.sleep(0.6)
    assert runtime.upgrade is None  # nothing changed since the tuning
    editor = editor_of(runtime, settings)
    editor.add_alternates("cek-pulsa", ["sisa pulsaku berapa ya"])
    editor.add_alternates("isi-pulsa", ["mau top up pulsa"])
    deadline = time.monotonic() + 30
    while runtime.upgrade is None and time.monotonic() < deadline:
        time.sleep(0.1)
    upgrade = runtime.upgrade
    assert upgrade is not None
    assert (upgrade.status().reason or "").startswith("2 entries changed since the model was tuned (")
    assert "re-tuning (2 entries changed" in model_status(runtime)
    answered_throughout(runtime, upgrade)
    serving = runtime.engine.index.settings
    assert generation(serving) == current_generation(settings) == 2
    assert fingerprint(serving) != before and runtime.engine.calibration.model == model_identity(serving)
    texts = {r.text for r in runtime.engine.index.records().values()}
    assert {"sisa pulsaku berapa ya", "mau top up pulsa"} <= texts
    reply = ask(runtime, "Bagaimana cara cek sisa pulsa?")
    assert reply.outcome == Outcome.ANSWER and reply.source is not None and reply.source.ref == "cek-pulsa"
    assert runtime.retunes.changes() == 0 and runtime.retunes.check() is None  # the new model learnt them
    assert "Re-tuning in the background (2 entries changed since the model was tuned" in caplog.text
    assert not first.exists()  # the previous generation is deleted after the swap, its collection too
    assert collections(settings) == {settings.index.collection}
    runtime.close()
    reopened = open_as_served(settings, runtimes)  # the next start serves the new generation directly
    assert model_identity(reopened.engine.index.settings) == model_identity(serving)


def test_fewer_changes_than_the_setting_start_nothing(tuned_machine: Settings, runtimes: list[Runtime]) -> None:
    settings = tuned_machine.replaced(retune_after_changes=2)
    runtime = open_as_served(settings, runtimes)
    runtime.retunes = retunes = RetuneScheduler(settings, runtime)
    assert retunes.changes() == 0 and retunes.check() is None
    editor = editor_of(runtime, settings)
    editor.add_alternates("cek-pulsa", ["sisa pulsaku berapa ya"])
    fields, version = fields_of(editor, "isi-pulsa")
    editor.save({**fields, "answer": "Isi lewat MyNusantel."}, version=version)  # the tuning reads no answers
    assert retunes.changes() == 1 and retunes.check() is None and runtime.upgrade is None
    assert "1 entry changed since it was tuned (re-tune at 2)" in model_status(runtime)
    # The staff page keeps looking, slowly, since a re-tune may start at any time.
    page = build_staff_page(runtime, StaffAccounts({}))
    (tick,) = [f.fn for f in page.fns.values() if getattr(f.fn, "__name__", "") == "on_tick"]
    assert tick is not None
    text, timer = tick()
    assert "1 entry changed" in text and timer.active is True and timer.value == IDLE_STATUS_SECONDS
    never = RetuneScheduler(settings.replaced(retune_after_changes=0), runtime)
    editor.add_alternates("isi-pulsa", ["mau top up pulsa"])
    assert never.changes() == 2 and never.check() is None  # 0: never by count
    assert generation(runtime.engine.index.settings) == current_generation(settings) == 1


def test_a_restart_in_the_middle_of_a_re_tune_serves_the_previous_model_at_once_and_it_completes_later(
    tuned_machine: Settings, runtimes: list[Runtime]
) -> None:
    settings = tuned_machine.replaced(retune_after_changes=1)
    runtime = open_as_served(settings, runtimes)
    before = model_identity(runtime.engine.index.settings)
    editor_of(runtime, settings).add_alternates("cek-pulsa", ["sisa pulsaku berapa ya"])
    runtime.retunes = RetuneScheduler(settings, runtime)
    stopped = runtime.retunes.check()
    assert stopped is not None
    time.sleep(1.0)  # its child is still loading PyTorch
    runtime.close()  # as by a restart
    assert stopped.wait(10) and stopped.status().phase == Phase.TUNING
    restarted = open_as_served(settings, runtimes)
    assert model_identity(restarted.engine.index.settings) == before  # the previous tuning, not the base model
    assert ask(restarted, "Bagaimana cara cek sisa pulsa?").outcome == Outcome.ANSWER
    restarted.retunes = RetuneScheduler(settings, restarted)
    upgrade = restarted.retunes.check()  # the change is still counted: the re-tune starts again
    assert upgrade is not None and (upgrade.status().reason or "").startswith("1 entry changed")
    answered_throughout(restarted, upgrade)
    assert generation(restarted.engine.index.settings) == current_generation(settings) == 2
    assert model_identity(restarted.engine.index.settings) != before


def test_a_restart_after_the_index_was_set_aside_answers_from_the_copy_and_resumes(
    first_generation: Settings, tuned_machine: Settings, runtimes: list[Runtime]
) -> None:
    settings = tuned_machine
    runtime = open_as_served(settings, runtimes)
    before = model_identity(runtime.engine.index.settings)
    upgrade = ModelUpgrade(settings, runtime.engine, "a test")
    assert generation(upgrade.target) == 2
    copy_model(first_generation, upgrade.target)  # as if its tuning had finished (the weights do not matter here)
    upgrade._set_aside()  # the serving index is copied to the stopgap and answers from there...
    assert runtime.engine.index.settings.index.collection == settings.index.collection + STOPGAP_SUFFIX
    assert ask(runtime, "Bagaimana cara cek sisa pulsa?").outcome == Outcome.ANSWER
    runtime.close()  # ...when a restart comes
    restarted = open_as_served(settings, runtimes)
    assert restarted.engine.index.settings.index.collection == settings.index.collection + STOPGAP_SUFFIX
    assert model_identity(restarted.engine.index.settings) == before  # the previous generation at once
    assert ask(restarted, "Bagaimana cara cek sisa pulsa?").outcome == Outcome.ANSWER
    restarted.retunes = RetuneScheduler(settings, restarted)
    resumed = restarted.retunes.check()
    assert resumed is not None and resumed.status().reason == "generation 2 was tuned before a restart"
    answered_throughout(restarted, resumed)
    assert generation(restarted.engine.index.settings) == current_generation(settings) == 2
    assert restarted.engine.index.settings.index.collection == settings.index.collection
    assert collections(settings) == {settings.index.collection}
    assert not tuned_model_folder(runtime.engine.index.settings).exists()


def test_the_nightly_re_tune_starts_at_its_hour_once_anything_changed(
    tuned_machine: Settings, runtimes: list[Runtime]
) -> None:
    settings = tuned_machine.replaced(retune_after_changes=0, retune_nightly_hour=2)
    zone = ZoneInfo(settings.office.timezone)
    now = [datetime(2026, 12, 2, 2, 5, tzinfo=zone)]
    runtime = open_as_served(settings, runtimes)
    runtime.retunes = retunes = RetuneScheduler(settings, runtime, clock=lambda: now[0])
    assert retunes.check() is None  # its hour, but nothing changed
    editor_of(runtime, settings).add_alternates("cek-pulsa", ["sisa pulsaku berapa ya"])
    now[0] = datetime(2026, 12, 2, 23, 0, tzinfo=zone)
    assert retunes.check() is None
    now[0] = datetime(2026, 12, 3, 1, 59, tzinfo=zone)
    assert retunes.check() is None
    now[0] = datetime(2026, 12, 3, 2, 0, tzinfo=zone)
    upgrade = retunes.check()
    assert upgrade is not None
    assert (upgrade.status().reason or "").startswith("nightly re-tune at 02:00: 1 entry changed since the model")
    upgrade.stop()
    now[0] = datetime(2026, 12, 3, 2, 30, tzinfo=zone)
    assert retunes.check() is None  # once a night


def test_a_generation_tuned_by_hand_is_taken_into_use_by_the_running_server(
    first_generation: Settings, tuned_machine: Settings, runtimes: list[Runtime]
) -> None:
    settings = tuned_machine
    runtime = open_as_served(settings, runtimes)
    by_hand = pinned(settings, 2)
    copy_model(first_generation, by_hand)  # what `tanya tune` leaves: a new generation, made the current one
    make_current(by_hand)
    runtime.retunes = RetuneScheduler(settings, runtime)
    upgrade = runtime.retunes.check()
    assert upgrade is not None and upgrade.status().reason == "generation 2 of the tuned model is ready"
    answered_throughout(runtime, upgrade)
    assert generation(runtime.engine.index.settings) == 2
    assert model_identity(runtime.engine.index.settings) == model_identity(settings)  # what every process opens
