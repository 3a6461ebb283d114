"""Unanswered questions: which ones are listed, grouped by meaning, each with the entry it most likely belongs to."""

from __future__ import annotations

from datetime import datetime

from bot.services.runtime import Runtime
from bot.services.unanswered_questions import group_unanswered, why_listed
from bot.storage.interaction_log import Interaction


def interaction(
    number: int, question: str, outcome: str = "handoff", helpful: bool | None = None, confidence: float = 0.3
) -> Interaction:
    return Interaction(
        number,
        "telegram",
        question,
        outcome,
        "low_confidence" if outcome == "handoff" else "",
        "",
        confidence,
        "id",
        datetime(2026, 1, 5, 3, 0),
        helpful,
        False,
    )


def test_each_question_says_why_it_is_listed() -> None:
    assert why_listed(interaction(1, "q", helpful=False), 0.6) == "tidak membantu / not helpful"
    assert why_listed(interaction(2, "q"), 0.6) == "dialihkan: tidak yakin / handed off: not sure"
    refused = interaction(4, "q", "refuse")
    assert why_listed(refused, 0.6) == "ditolak sebagai data orang lain / refused as another person's data"
    assert why_listed(interaction(5, "q", "decline"), 0.6) == "ditolak sebagai di luar topik / declined as off-topic"
    assert why_listed(interaction(3, "q", "answer", confidence=0.58), 0.6) == "keyakinan rendah / low confidence"


def test_questions_asking_the_same_thing_form_one_group(demo_runtime: Runtime) -> None:
    groups = group_unanswered(
        demo_runtime.engine,
        [
            interaction(1, "cara transfer pulsa ke nomor lain gimana"),
            interaction(2, "Cara transfer pulsa ke nomor lain gimana?"),
            interaction(3, "gimana cara transfer pulsa ke nomor lain"),
            interaction(4, "nomor 081234567890 saya kena tipu hadiah"),
            interaction(5, "   "),
        ],
    )
    assert [g.count for g in groups] == [3, 1]
    transfer, scam = groups
    assert transfer.interaction_ids == (1, 2, 3) and transfer.representative.lower().startswith("cara transfer pulsa")
    assert transfer.suggested_entry == "transfer-pulsa"
    assert "081234567890" not in scam.representative and "[PHONE" in scam.representative
    assert group_unanswered(demo_runtime.engine, []) == []
