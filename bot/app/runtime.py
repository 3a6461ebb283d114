"""Wiring one process's runtime: the index and model, the database and its stores, and the services over them."""

from __future__ import annotations

from pathlib import Path

from bot.engine import AnswerEngine
from bot.services.conversation import ConversationService
from bot.services.runtime import Runtime
from bot.services.ticket_maintenance import TicketMaintenance
from bot.settings import Settings
from bot.storage.database import Database
from bot.storage.faq_drafts import DraftStore
from bot.storage.handoff_store import HandoffStore
from bot.storage.interaction_log import InteractionLog
from bot.storage.leases import DatabaseLeases


def open_runtime(settings: Settings, *, writable: bool = True, store_dir: Path | None = None) -> Runtime:
    """Open the index (owning it when `writable`), load the model once and connect the database."""
    engine = AnswerEngine.open(settings, writable=writable, store_dir=store_dir)
    database = Database(settings.database_url)
    leases = DatabaseLeases(database)
    engine.leases = leases  # one calibration across the replicas
    handoffs = HandoffStore(database)
    interactions = InteractionLog(database)
    drafts = DraftStore(database)
    conversations = ConversationService(engine, handoffs, interactions, drafts)
    maintenance = TicketMaintenance(conversations, leases)
    return Runtime(settings, engine, database, handoffs, interactions, conversations, drafts, maintenance, leases)
