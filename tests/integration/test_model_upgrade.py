"""Serving at once on the base model, tuning in the background, and swapping to the tuned model without a restart.

The knowledge base is the small one of the CLI tests, tuned for one epoch into the test's own model cache (a real
`tanya tune` child process, seconds), so the shared default model under var/models is never touched.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import chromadb
import pytest
from support.cli import write_kb
from support.tiny_models import tiny_settings
from support.upgrades import UPGRADE_SECONDS, answered_throughout, ask
from support.workspace import bundled_onnx_export

from bot.app.runtime import open_runtime
from bot.core.messages import Outcome
from bot.retrieval.embedder import load_embedder
from bot.retrieval.tuned_models import progress_file, read_progress
from bot.services.model_upgrade import STOPGAP_SUFFIX, ModelUpgrade, Phase, base_model_settings, needs_tuning
from bot.services.runtime import Runtime
from bot.services.staff_accounts import StaffAccounts
from bot.settings import BUNDLED_MODEL, Settings
from ingest.faq_editor import FaqEditor
from ingest.knowledge_base import load_knowledge_base
from ingest.live_reindex import LiveReindexer
from ingest.sync import sync_index
from ui.staff_page import build_staff_page, model_status


@pytest.fixture
def fresh_machine(tmp_path: Path) -> Settings:
    """Settings whose tuned model does not exist yet (the bundled model's ONNX export is copied, to save time)."""
    settings = tiny_settings(tmp_path)
    export = bundled_onnx_export()
    shutil.copytree(export, settings.model.cache_dir / export.name)
    return settings


def open_on_the_base_model(target: Settings) -> Runtime:
    runtime = open_runtime(base_model_settings(target))
    with runtime.engine.content_lock:
        sync_index(runtime.engine.index, load_knowledge_base([target.kb_dir], target.kb_dir), show_progress=False)
        runtime.engine.refresh()
    runtime.engine.wait_for_calibration()
    return runtime


def test_a_fresh_machine_answers_on_the_base_model_then_swaps_to_the_tuned_one_after_a_restart(
    fresh_machine: Settings,
) -> None:
    target = fresh_machine
    assert needs_tuning(target)
    runtime = open_on_the_base_model(target)
    try:
        assert runtime.engine.model == BUNDLED_MODEL
        assert runtime.engine.index.settings.index.collection == target.index.collection + STOPGAP_SUFFIX
        stopped = ModelUpgrade(target, runtime.engine).start()
        time.sleep(1.0)  # its child is still loading PyTorch: stopped before any weights exist, as by a restart
        stopped.stop()
        assert stopped.wait(10) and stopped.status().phase == Phase.TUNING and needs_tuning(target)
        upgrade = ModelUpgrade(target, runtime.engine)  # the next start begins again, cleanly
        runtime.upgrade = upgrade
        assert model_status(runtime).startswith("⏳")
        upgrade.start()
        # An editor's save while the tuned model is being built reaches the tuned index too.
        FaqEditor(target.kb_dir, on_saved=LiveReindexer(runtime.engine, target.kb_dir)).add_alternates(
            "cek-pulsa", ["sisa pulsaku berapa ya"]
        )
        answered_throughout(runtime, upgrade)
        assert runtime.engine.model == target.model.embedding_model
        assert runtime.engine.index.info()["embedding_model"].startswith("tuned:")
        assert runtime.engine.calibration.model.startswith("tuned:")  # calibrated for the tuned model
        assert "sisa pulsaku berapa ya" in {r.text for r in runtime.engine.index.records().values()}
        reply = ask(runtime, "Bagaimana cara cek sisa pulsa?")
        assert reply.outcome == Outcome.ANSWER and reply.source is not None and reply.source.ref == "cek-pulsa"
        progress = read_progress(target)
        assert progress is not None and progress.step == progress.total > 0
        assert "fine-tuned" in model_status(runtime)
    finally:
        runtime.close()
    # The base model's stopgap collection is gone, and the next start serves the tuned model directly.
    assert not needs_tuning(target)
    reopened = open_runtime(target)
    try:
        assert reopened.engine.model == target.model.embedding_model and reopened.engine.index.count() > 0
        assert ask(reopened, "Bagaimana cara cek sisa pulsa?").outcome == Outcome.ANSWER
    finally:
        reopened.close()
    collections = {c.name for c in chromadb.PersistentClient(path=str(target.index.store_dir)).list_collections()}
    assert collections == {target.index.collection}


def test_no_question_fails_while_the_index_is_swapped(fresh_machine: Settings) -> None:
    target = fresh_machine
    runtime = open_on_the_base_model(target)
    other = target.replaced(embedding_model=BUNDLED_MODEL, collection="tanya_other")
    index = runtime.engine.index.sibling(other, load_embedder(other))
    sync_index(index, load_knowledge_base([target.kb_dir], target.kb_dir), show_progress=False)
    failures: list[BaseException] = []
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                outcomes.append(ask(runtime, "gmn cek pulsa").outcome)
            except BaseException as error:  # noqa: BLE001 (any failure is what this test looks for)
                failures.append(error)

    askers = [threading.Thread(target=keep_asking) for _ in range(3)]
    try:
        for asker in askers:
            asker.start()
        serving = runtime.engine.prepare(index)
        with runtime.engine.content_lock:
            runtime.engine.swap(serving)
        time.sleep(0.5)
    finally:
        stop.set()
        for asker in askers:
            asker.join(10)
        runtime.close()
    assert not failures
    assert outcomes and set(outcomes) <= {Outcome.ANSWER, Outcome.HANDOFF}
    assert runtime.engine.index is index and runtime.engine.settings.index.collection == "tanya_other"


def test_a_failed_tuning_keeps_the_base_model_answering_and_says_so(fresh_machine: Settings) -> None:
    # A knowledge base without a single alternate phrasing cannot be fine-tuned.
    shutil.rmtree(fresh_machine.kb_dir)
    write_kb(
        fresh_machine.kb_dir.parent,
        {"faq/one.yaml": "faq:\n  - id: satu\n    question: Bagaimana cara cek pulsa?\n    answer: Tekan *123#.\n"},
    )
    runtime = open_on_the_base_model(fresh_machine)
    try:
        upgrade = ModelUpgrade(fresh_machine, runtime.engine)
        runtime.upgrade = upgrade.start()
        assert upgrade.wait(UPGRADE_SECONDS)
        status = upgrade.status()
        assert status.phase == Phase.FAILED and "exit code" in (status.error or "")
        assert runtime.engine.model == BUNDLED_MODEL
        assert model_status(runtime).startswith("⚠️")
        assert ask(runtime, "Bagaimana cara cek pulsa?").outcome in (Outcome.ANSWER, Outcome.HANDOFF)
        assert runtime.engine.retriever.retrieve("Bagaimana cara cek pulsa?")[0].ref == "satu"
    finally:
        runtime.close()


def test_the_staff_page_shows_the_tuning_progress(fresh_machine: Settings) -> None:
    runtime = open_on_the_base_model(fresh_machine)
    try:
        runtime.upgrade = ModelUpgrade(fresh_machine, runtime.engine)
        now = time.time()
        progress_file(fresh_machine).write_text(
            json.dumps({"step": 30, "total": 120, "started": now - 60, "updated": now})
        )
        line = model_status(runtime)
        assert f"`{BUNDLED_MODEL}`" in line and "25%" in line and "█████░" in line and "~3 min" in line
        # The staff page polls it while the upgrade moves, and stops polling once it has ended.
        page = build_staff_page(runtime, StaffAccounts({}))
        (tick,) = [f.fn for f in page.fns.values() if getattr(f.fn, "__name__", "") == "on_tick"]
        assert tick is not None
        text, timer = tick()
        assert text == line and timer.active is True
        runtime.upgrade._phase = Phase.READY  # as at the end of an upgrade
        text, timer = tick()
        assert "fine-tuned" in text and timer.active is False
    finally:
        runtime.close()
