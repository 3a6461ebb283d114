"""The one loop that closes idle tickets, for every channel: channels listen for the tickets it closed.

Each closed ticket's "Tanya is back" notice is queued in the handoff outbox by the close itself, so every channel
delivers it the way it delivers officers' replies. A listener adds what only its channel does (the Telegram channel
tells the officers' group). Before this there were two loops, and whichever won decided what officers were told.
Across replicas the loop runs in every process, but only the holder of the ticket-maintenance lease closes tickets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.core.cluster import TICKET_MAINTENANCE, LeaseKeeper, SoleProcess
from bot.core.tickets import Ticket
from bot.services.conversation import ConversationService

log = logging.getLogger(__name__)

ROUND_SECONDS = 60.0

ClosedTicketsListener = Callable[[list[Ticket]], None]


class TicketMaintenance:
    """Closes tickets idle past the setting, once a round, and tells each listener what it closed."""

    def __init__(self, conversations: ConversationService, leases: LeaseKeeper | None = None) -> None:
        self.conversations = conversations
        self.leases = leases or SoleProcess()
        self._listeners: list[ClosedTicketsListener] = []
        self._lock = threading.Lock()

    def add_listener(self, listener: ClosedTicketsListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: ClosedTicketsListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def run_once(self) -> list[Ticket]:
        """One round: close idle tickets, then tell every listener (one failing listener does not stop the others)."""
        closed = self.conversations.close_idle_tickets()
        if not closed:
            return closed
        log.info("Closed %d idle ticket(s)", len(closed))
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(closed)
            except Exception:
                log.exception("A listener of closed tickets failed")
        return closed

    def run(self, stop: threading.Event, every: float = ROUND_SECONDS) -> None:
        """Rounds every `every` seconds until `stop` is set, while this process holds the lease (a holder that dies
        is replaced within three rounds)."""
        while not stop.wait(every):
            try:
                if self.leases.hold(TICKET_MAINTENANCE, 3 * every):
                    self.run_once()
            except Exception:  # one failed round must not end maintenance for the life of the server
                log.exception("Ticket maintenance failed")
