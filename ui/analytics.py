"""The analytics page: deflection, handoffs by reason, feedback, top unanswered questions, volume by hour.

Question texts shown here have phone numbers and NIKs masked (they are stored masked; masked again on display).
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from bot.core.business_hours import BusinessHours
from bot.core.masking import mask_personal_data
from bot.core.messages import Outcome
from bot.core.phrases import reason_label
from bot.services.analytics_report import AnalyticsReport, report_for_days
from bot.services.runtime import Runtime
from bot.services.staff_accounts import ANALYST, StaffAccounts
from bot.services.unanswered_questions import unanswered_groups
from ui import concurrency
from ui.staff_access import require

PERIODS = {"7 hari terakhir / last 7 days": 7, "30 hari terakhir / last 30 days": 30, "Semua / All time": 0}
OUTCOME_LABELS: dict[str, str] = {  # stored outcomes are their plain values
    Outcome.ANSWER: "dijawab / answered",
    Outcome.HANDOFF: "dialihkan / handed off",
    Outcome.DECLINE: "di luar topik, sapaan / off-topic, greeting",
    Outcome.REFUSE: "ditolak (privasi) / refused (privacy)",
}
TOP_UNANSWERED = 10
_OFFICE = "Jam kerja / Office hours"
_AFTER = "Di luar jam kerja / After hours"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def kpi_html(report: AnalyticsReport) -> str:
    """The headline numbers as cards."""
    cards = [
        (str(report.questions), "Pertanyaan pelanggan / Customer questions"),
        (_percent(report.deflection_rate), "Deflection: dijawab tanpa petugas / answered without a person"),
        (str(report.handed_off), "Dialihkan ke petugas / Handed off"),
        (_percent(report.helpful_rate), f"Membantu / Helpful ({report.helpful}👍 {report.not_helpful}👎)"),
        (_percent(report.after_hours_share), "Di luar jam kerja / After hours"),
    ]
    body = "".join(f"<div class='tanya-kpi'><b>{value}</b><span>{label}</span></div>" for value, label in cards)
    return f"<div class='tanya-kpis' id='analytics-kpis'>{body}</div>"


def chart_frames(report: AnalyticsReport, hours: BusinessHours) -> dict[str, pd.DataFrame]:
    """The data of each chart."""
    reasons = pd.DataFrame(
        [(reason_label(k, bilingual=True), v) for k, v in report.handoffs_by_reason.items()],
        columns=["Alasan / Reason", "Jumlah / Count"],
    )
    outcomes = pd.DataFrame(
        [(OUTCOME_LABELS.get(k, k), v) for k, v in report.outcomes.items()],
        columns=["Hasil / Outcome", "Jumlah / Count"],
    )
    feedback = pd.DataFrame(
        [("👍 membantu / helpful", report.helpful), ("👎 tidak membantu / not helpful", report.not_helpful)],
        columns=["Masukan / Feedback", "Jumlah / Count"],
    )
    by_hour = pd.DataFrame(
        [(f"{h:02d}", n, _OFFICE if hours.start <= h < hours.end else _AFTER) for h, n in enumerate(report.by_hour)],
        columns=["Jam / Hour", "Pertanyaan / Questions", "Waktu / Time"],
    )
    return {"reasons": reasons, "outcomes": outcomes, "feedback": feedback, "by_hour": by_hour}


class AnalyticsPage:
    """Builds the report for a period and shows it as cards, charts and a table; needs the analyst role."""

    def __init__(self, runtime: Runtime, accounts: StaffAccounts) -> None:
        self.runtime = runtime
        self.accounts = accounts
        self.hours = BusinessHours(runtime.settings)

    def report(self, days: int) -> AnalyticsReport:
        return report_for_days(self.runtime.interactions, self.hours, days)

    def top_unanswered(self, limit: int = TOP_UNANSWERED) -> pd.DataFrame:
        """The biggest groups of unanswered questions (masked)."""
        groups = unanswered_groups(self.runtime.engine, self.runtime.interactions)
        rows = [
            (mask_personal_data(g.representative), g.count, ", ".join(g.reasons), g.suggested_entry or "—")
            for g in groups[:limit]
        ]
        return pd.DataFrame(
            rows, columns=["Pertanyaan / Question", "Jumlah / Count", "Alasan / Why", "Entri terdekat / Nearest entry"]
        )

    def api_analytics(self, days: int, request: gr.Request) -> dict[str, Any]:
        """The report for the last `days` days (0: all time)."""
        require(self.accounts, request, ANALYST)
        report = self.report(days)
        return {
            "questions": report.questions,
            "answered": report.answered,
            "handed_off": report.handed_off,
            "deflection_rate": report.deflection_rate,
            "handoffs_by_reason": report.handoffs_by_reason,
            "helpful": report.helpful,
            "not_helpful": report.not_helpful,
            "by_hour": list(report.by_hour),
            "after_hours_share": report.after_hours_share,
            "by_channel": report.by_channel,
        }

    def build(self, tab: gr.Tab) -> None:
        """The analytics components and events (inside the staff page's tab)."""
        with gr.Row():
            period = gr.Dropdown(label="Periode / Period", choices=list(PERIODS), value=next(iter(PERIODS)), scale=2)
            refresh = gr.Button("↻ Muat ulang / Refresh", scale=1)
        kpis = gr.HTML("", elem_id="analytics-kpi-box")
        with gr.Row():
            outcomes = gr.BarPlot(
                x="Hasil / Outcome",
                y="Jumlah / Count",
                title="Hasil pertanyaan / Outcomes",
                height=260,
                y_lim=[0, None],
            )
            feedback = gr.BarPlot(
                x="Masukan / Feedback",
                y="Jumlah / Count",
                title="Masukan pelanggan / Feedback",
                height=260,
                y_lim=[0, None],
            )
        reasons = gr.BarPlot(
            x="Alasan / Reason",
            y="Jumlah / Count",
            title="Pengalihan menurut alasan / Handoffs by reason",
            height=260,
            y_lim=[0, None],
        )
        by_hour = gr.BarPlot(
            x="Jam / Hour",
            y="Pertanyaan / Questions",
            color="Waktu / Time",
            sort="x",
            height=280,
            title="Volume menurut jam, waktu setempat / Volume by hour of day, local time",
            color_map={_OFFICE: "#0d9488", _AFTER: "#f59e0b"},
            y_lim=[0, None],
        )
        gr.Markdown("#### Pertanyaan tak terjawab teratas / Top unanswered questions")
        # Plain text: customers' questions must not render as Markdown or HTML.
        unanswered = gr.Dataframe(datatype="str", interactive=False, wrap=True, elem_id="analytics-unanswered")

        def show(period_label: str, request: gr.Request) -> tuple[Any, ...]:
            require(self.accounts, request, ANALYST)
            report = self.report(PERIODS.get(period_label, 7))
            frames = chart_frames(report, self.hours)
            return (
                kpi_html(report),
                frames["outcomes"],
                frames["reasons"],
                frames["by_hour"],
                frames["feedback"],
                self.top_unanswered(),
            )

        for trigger in (refresh.click, period.change, tab.select):
            trigger(
                show,
                [period],
                [kpis, outcomes, reasons, by_hour, feedback, unanswered],
                concurrency_limit=concurrency.ANALYTICS,
                api_visibility="private",
            )
        gr.api(self.api_analytics, api_name="analytics", concurrency_limit=concurrency.ANALYTICS)
