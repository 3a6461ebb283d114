"""Live re-indexing of one file: only that file's records change, and the engine answers with them at once."""

from __future__ import annotations

from bot.core.messages import Question
from bot.services.runtime import Runtime
from ingest.live_reindex import LiveReindexer


def test_one_changed_file_is_synced_and_the_engine_refreshed(demo_runtime: Runtime) -> None:
    kb = demo_runtime.settings.kb_dir
    path = kb / "faq" / "tarif.yaml"
    before = {
        rid: r for rid, r in demo_runtime.engine.index.records().items() if r.metadata.get("source") != "faq/tarif.yaml"
    }
    path.write_text(
        path.read_text(encoding="utf-8")
        + "\n  - id: tarif-uji-satelit\n    question: Berapa tarif telepon satelit dari kapal?\n"
        "    answer: Telepon satelit dari kapal Rp25.000 per menit.\n",
        encoding="utf-8",
    )
    summary = LiveReindexer(demo_runtime.engine, kb)(path)
    assert summary.added == 1 and summary.removed == 0 and summary.embedded == 2
    reply = demo_runtime.engine.answer(Question("berapa tarif telepon satelit dari kapal?", "t", "telegram"))
    assert reply.text == "Telepon satelit dari kapal Rp25.000 per menit."
    after = demo_runtime.engine.index.records()
    assert all(after[rid].metadata == record.metadata for rid, record in before.items())  # other files untouched
