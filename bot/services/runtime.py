"""Everything a running Tanya process shares: settings, the engine, the database and the services over them.

Channels (Telegram, the web app) receive one and call its services; `bot.app.runtime.open_runtime` builds it."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.cluster import LeaseKeeper, SoleProcess
from bot.engine import AnswerEngine
from bot.services.conversation import ConversationService
from bot.services.model_retune import RetuneScheduler
from bot.services.model_upgrade import ModelUpgrade
from bot.services.ticket_maintenance import TicketMaintenance
from bot.settings import Settings
from bot.storage.database import Database
from bot.storage.faq_drafts import DraftStore
from bot.storage.handoff_store import HandoffStore
from bot.storage.interaction_log import InteractionLog


@dataclass
class Runtime:
    """One of these per process; channels (Telegram, web) receive it and call `conversations`."""

    settings: Settings
    engine: AnswerEngine
    database: Database
    handoffs: HandoffStore
    interactions: InteractionLog
    conversations: ConversationService
    drafts: DraftStore
    maintenance: TicketMaintenance  # the one idle-ticket loop; channels add listeners
    leases: LeaseKeeper = field(default_factory=SoleProcess)  # which replica does the work that runs once
    upgrade: ModelUpgrade | None = None  # the tuned model being built (or last built) while another answers
    retunes: RetuneScheduler | None = None  # starts the upgrades: the first run's, and re-tunes after editors' changes

    def close(self) -> None:
        if self.retunes is not None:  # first, so it starts no upgrade while the one under way stops
            self.retunes.stop()
        if self.upgrade is not None:
            self.upgrade.stop()
        self.engine.close()
        self.database.dispose()
