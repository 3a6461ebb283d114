"""Analytics numbers: deflection, handoff reasons, feedback and volume by local hour with the after-hours share."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import gradio as gr
from support.markdown import HOSTILE
from support.workspace import make_settings

from bot.core.business_hours import BusinessHours
from bot.core.messages import Question
from bot.services.analytics_report import AnalyticsReport, build_report
from bot.services.runtime import Runtime
from bot.services.staff_accounts import StaffAccounts
from bot.storage.interaction_log import Interaction
from ui.analytics import AnalyticsPage, chart_frames, kpi_html


def interaction(
    number: int, outcome: str, utc_hour: int, reason: str = "", helpful: bool | None = None, channel: str = "telegram"
) -> Interaction:
    return Interaction(
        number,
        channel,
        f"q{number}",
        outcome,
        reason,
        "",
        0.8,
        "id",
        datetime(2026, 1, 5, utc_hour, 30),
        helpful,
        False,
    )


def hours(tmp_path: Path) -> BusinessHours:
    return BusinessHours(make_settings(tmp_path))  # Asia/Jakarta (UTC+7), officers 08-20


def test_the_report_summarises_customer_questions(tmp_path: Path) -> None:
    report = build_report(
        [
            interaction(1, "answer", 2, helpful=True),  # 09:30 WIB
            interaction(2, "answer", 3, helpful=False),  # 10:30 WIB
            interaction(3, "answer", 14),  # 21:30 WIB: after hours
            interaction(4, "handoff", 4, reason="low_confidence"),
            interaction(5, "handoff", 16, reason="angry"),  # 23:30 WIB
            interaction(6, "handoff", 5, reason="low_confidence", channel="web"),
            interaction(7, "decline", 6, reason="greeting"),
            interaction(8, "answer", 6, channel="officer-sms"),  # an officer's SMS helper, not a customer
            interaction(9, "answer", 6, channel="cli"),
        ],
        hours(tmp_path),
    )
    assert (report.questions, report.answered, report.handed_off) == (7, 3, 3)
    assert report.deflection_rate == 0.5  # decline and refuse count towards volume, not deflection
    assert report.handoffs_by_reason == {"low_confidence": 2, "angry": 1}
    assert (report.helpful, report.not_helpful, report.helpful_rate) == (1, 1, 0.5)
    assert report.by_hour[9] == 1 and report.by_hour[21] == 1 and report.by_hour[23] == 1 and sum(report.by_hour) == 7
    assert report.after_hours == 2 and report.after_hours_share == 2 / 7
    assert report.by_channel == {"telegram": 6, "web": 1}


def test_an_empty_period_has_no_rates() -> None:
    report = AnalyticsReport()
    assert report.deflection_rate is None and report.after_hours_share is None and report.helpful_rate is None
    assert "—" in kpi_html(report)


def test_chart_data_marks_office_and_after_hours(tmp_path: Path) -> None:
    report = build_report([interaction(1, "handoff", 2, reason="account_data")], hours(tmp_path))
    frames = chart_frames(report, hours(tmp_path))
    by_hour = frames["by_hour"].set_index("Jam / Hour")
    assert by_hour.loc["09", "Pertanyaan / Questions"] == 1
    assert by_hour.loc["09", "Waktu / Time"].startswith("Jam kerja") and by_hour.loc["21", "Waktu / Time"].startswith(
        "Di luar"
    )
    assert frames["reasons"].values.tolist() == [["perlu data akun / account data", 1]]
    assert "0%" in kpi_html(report)  # deflection 0 of 1


def test_top_unanswered_questions_are_plain_text(demo_runtime: Runtime) -> None:
    interaction_id = demo_runtime.conversations.handle(Question(HOSTILE, "u-1", "telegram")).interaction_id
    assert interaction_id is not None
    demo_runtime.interactions.add_feedback(interaction_id, False)
    page = AnalyticsPage(demo_runtime, StaffAccounts({}))
    assert HOSTILE in page.top_unanswered()["Pertanyaan / Question"].tolist()  # as written, not Markdown-escaped
    with gr.Blocks() as blocks, gr.Tab("Analitik") as tab:
        page.build(tab)
    [table] = [block for block in blocks.blocks.values() if getattr(block, "elem_id", None) == "analytics-unanswered"]
    assert isinstance(table, gr.Dataframe) and table.datatype == "str"  # Gradio shows "str" cells HTML-escaped
