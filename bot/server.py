"""`tanya serve`: one process that owns the index and runs the web app and, when configured, the Telegram bot."""

from __future__ import annotations

import logging

from bot.settings import Settings

log = logging.getLogger(__name__)


def serve(settings: Settings, *, web: bool, telegram: bool) -> None:
    """Run the selected channels over one engine (filled in by the channel modules)."""
    raise NotImplementedError("tanya serve arrives with the web and Telegram channels")
