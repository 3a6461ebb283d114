"""Everything a running Tanya process shares: settings, the engine, the database and the conversation rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.conversation import ConversationService
from bot.database import Database
from bot.engine import AnswerEngine
from bot.faq_drafts import DraftStore
from bot.handoff_store import HandoffStore
from bot.interaction_log import InteractionLog
from bot.model_retune import RetuneScheduler
from bot.model_upgrade import ModelUpgrade
from bot.settings import Settings
from bot.ticket_maintenance import TicketMaintenance


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
    upgrade: ModelUpgrade | None = None  # the tuned model being built (or last built) while another answers
    retunes: RetuneScheduler | None = None  # starts the upgrades: the first run's, and re-tunes after editors' changes

    @classmethod
    def open(cls, settings: Settings, *, writable: bool = True, store_dir: Path | None = None) -> Runtime:
        """Open the index (owning it when `writable`), load the model once and connect the database."""
        engine = AnswerEngine.open(settings, writable=writable, store_dir=store_dir)
        database = Database(settings.database_url)
        handoffs = HandoffStore(database)
        interactions = InteractionLog(database)
        drafts = DraftStore(database)
        conversations = ConversationService(engine, handoffs, interactions, drafts)
        maintenance = TicketMaintenance(conversations)
        return cls(settings, engine, database, handoffs, interactions, conversations, drafts, maintenance)

    def close(self) -> None:
        if self.retunes is not None:  # first, so it starts no upgrade while the one under way stops
            self.retunes.stop()
        if self.upgrade is not None:
            self.upgrade.stop()
        self.engine.close()
        self.database.dispose()
