"""Updates of different chats run side by side; the updates of one chat run one at a time, in the order received.

A slow handler (an answer being computed, a request waiting on Telegram's rate limits) then holds up only its own
chat, while a customer's follow-up still reads the history their previous message left (`chat_data`) and a
customer's messages reach their ticket in the order typed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Hashable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# Updates taken from the queue but not finished (waiting for their chat or a worker). The base class's semaphore
# enforces it before our chat lock is reached, so it is far above anything a bot sees: an update waiting behind
# its chat must not hold one of the `workers` slots, or one chatty customer could occupy them all.
_IN_PROGRESS_LIMIT = 100_000


@dataclass
class _ChatTurn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    updates: int = 0  # holding or waiting for the lock; the entry is dropped at zero (memory stays bounded)


def chat_key(update: object) -> Hashable | None:
    """What orders an update: its chat, else its sender (a callback query on an inline message has no chat)."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return None


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Runs up to `workers` updates at once, one chat's updates in the order they were received."""

    def __init__(self, workers: int) -> None:
        super().__init__(_IN_PROGRESS_LIMIT)
        self.workers = workers
        self._slots = asyncio.Semaphore(workers)
        self._chats: dict[Hashable, _ChatTurn] = {}

    @property
    def chats_in_progress(self) -> int:
        """Chats with an update running or waiting."""
        return len(self._chats)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's earlier updates (asyncio's lock wakes waiters first come, first served, and the
        Application starts one task per update in queue order), then for a free worker."""
        key = chat_key(update)
        if key is None:
            async with self._slots:
                await coroutine
            return
        turn = self._chats.setdefault(key, _ChatTurn())
        turn.updates += 1
        try:
            async with turn.lock, self._slots:
                await coroutine
        finally:
            turn.updates -= 1
            if turn.updates == 0:
                del self._chats[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
