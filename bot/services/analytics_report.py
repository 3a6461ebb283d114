"""The numbers behind the analytics page, computed from the interaction log (no Gradio here, so they are testable).

Deflection is the share of customer questions the bot answered itself: answers / (answers + handoffs).
Greetings, off-topic questions and refusals count towards volume but not towards deflection.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from bot.core.business_hours import BusinessHours
from bot.core.clock import utcnow
from bot.core.messages import Channel, Outcome
from bot.storage.interaction_log import Interaction, InteractionLog

# Interactions that are not customers asking: officers' quick SMS answers, the CLI and evaluation runs.
NON_CUSTOMER_CHANNELS = frozenset({Channel.OFFICER_SMS, Channel.CLI, Channel.EVAL})


@dataclass(frozen=True)
class AnalyticsReport:
    """Customer questions in a period, summarised."""

    questions: int = 0
    answered: int = 0
    handed_off: int = 0
    handoffs_by_reason: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    helpful: int = 0
    not_helpful: int = 0
    by_hour: tuple[int, ...] = (0,) * 24  # local time of day
    after_hours: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)

    @property
    def deflection_rate(self) -> float | None:
        """Answered without a person, among questions that were either answered or handed off."""
        decided = self.answered + self.handed_off
        return self.answered / decided if decided else None

    @property
    def after_hours_share(self) -> float | None:
        return self.after_hours / self.questions if self.questions else None

    @property
    def helpful_rate(self) -> float | None:
        rated = self.helpful + self.not_helpful
        return self.helpful / rated if rated else None


def build_report(interactions: list[Interaction], hours: BusinessHours) -> AnalyticsReport:
    """Summarise customer interactions: outcomes, handoff reasons, feedback and volume by local hour."""
    customer = [i for i in interactions if i.channel not in NON_CUSTOMER_CHANNELS]
    outcomes = Counter(i.outcome for i in customer)
    reasons = Counter(i.reason or "unknown" for i in customer if i.outcome == Outcome.HANDOFF)
    by_hour = [0] * 24
    after_hours = 0
    for item in customer:
        local = hours.local(item.created_at.replace(tzinfo=UTC))
        by_hour[local.hour] += 1
        if not hours.is_open(local):
            after_hours += 1
    return AnalyticsReport(
        questions=len(customer),
        answered=outcomes.get("answer", 0),
        handed_off=outcomes.get("handoff", 0),
        handoffs_by_reason=dict(reasons.most_common()),
        outcomes=dict(outcomes.most_common()),
        helpful=sum(1 for i in customer if i.helpful is True),
        not_helpful=sum(1 for i in customer if i.helpful is False),
        by_hour=tuple(by_hour),
        after_hours=after_hours,
        by_channel=dict(Counter(i.channel for i in customer).most_common()),
    )


def report_for_days(log: InteractionLog, hours: BusinessHours, days: int) -> AnalyticsReport:
    """The report of the last `days` days (0: all time)."""
    since = utcnow() - timedelta(days=days) if days > 0 else None
    return build_report(log.interactions(since=since), hours)
