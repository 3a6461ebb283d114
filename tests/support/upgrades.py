"""Asking a runtime questions while its model is upgraded."""

from __future__ import annotations

import time

from bot.core.messages import Outcome, Question
from bot.services.model_upgrade import ModelUpgrade, Phase
from bot.services.runtime import Runtime


def ask(runtime: Runtime, text: str) -> object:
    return runtime.engine.answer(Question(text, "u1", "web"))


def answered_throughout(runtime: Runtime, upgrade: ModelUpgrade) -> None:
    """Ask on until the upgrade ends: it ends ready, and every question meanwhile is answered or handed off."""
    replies = []
    deadline = time.monotonic() + UPGRADE_SECONDS
    while not upgrade.wait(0.2) and time.monotonic() < deadline:
        replies.append(ask(runtime, "gmn cara cek pulsa"))
    assert upgrade.status().phase == Phase.READY, upgrade.status()
    assert replies and all(r.outcome in (Outcome.ANSWER, Outcome.HANDOFF) for r in replies)


UPGRADE_SECONDS = 300.0
