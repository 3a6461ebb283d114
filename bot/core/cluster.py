"""Work that must run once across every Tanya process serving one site (replicas over one database).

A `LeaseKeeper` grants a named piece of work (closing idle tickets, sending the Telegram outbox, calibrating) to
one process at a time. The storage layer keeps leases in the shared database; a lone process, or a test, may use
`SoleProcess`, which grants everything.
"""

from __future__ import annotations

from typing import Protocol

# The work that runs once across the cluster, by lease name.
TICKET_MAINTENANCE = "ticket-maintenance"
TELEGRAM_OUTBOX = "telegram-outbox"
TELEGRAM_ORPHANS = "telegram-orphans"  # taking over updates a replica received and died before finishing
CALIBRATION = "calibration"


class LeaseKeeper(Protocol):
    def hold(self, name: str, seconds: float) -> bool:
        """Take or renew the lease `name` for `seconds`: True when this process holds it now."""
        ...

    def release(self, name: str) -> None:
        """Give the lease up early (the work is done), so another process need not wait for it to expire."""
        ...


class SoleProcess:
    """Every lease, always: for a process that is the only one (nothing to share the work with)."""

    def hold(self, name: str, seconds: float) -> bool:
        return True

    def release(self, name: str) -> None:
        return None
