"""A Bot stand-in for the outbox tests: records what is sent, and raises the errors a chat is set up to fail with."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from telegram.error import TelegramError


class FlakyBot:
    """Records sends (chat, text, buttons); `failures` maps a chat to the errors its next sends raise, one per send."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, Any]] = []
        self.failures: dict[int, list[TelegramError]] = {}

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> SimpleNamespace:
        waiting = self.failures.get(chat_id)
        if waiting:
            raise waiting.pop(0)
        self.sent.append((chat_id, text, kwargs.get("reply_markup")))
        return SimpleNamespace(message_id=len(self.sent))

    def to(self, chat_id: int) -> list[str]:
        return [text for chat, text, _ in self.sent if chat == chat_id]
