"""The fake Telegram Bot API server, for the tests: it lives in `evals.fake_bot_api` (the load benchmark runs the bot
against it too, and evals never import tests)."""

from evals.fake_bot_api import (
    BOT_ID,
    BOT_USERNAME,
    DOCUMENT,
    PHOTO,
    STICKER,
    TEXT_LIMIT,
    UPDATES_LIMIT,
    VOICE,
    ApiCall,
    FakeBotApi,
    FakeUser,
    check_html,
)

__all__ = [
    "BOT_ID",
    "BOT_USERNAME",
    "DOCUMENT",
    "PHOTO",
    "STICKER",
    "TEXT_LIMIT",
    "UPDATES_LIMIT",
    "VOICE",
    "ApiCall",
    "FakeBotApi",
    "FakeUser",
    "check_html",
]
