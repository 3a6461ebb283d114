"""How the Telegram channel logs failures: the full traceback, with phone numbers, NIKs and the bot token masked
in the text itself, so nothing leaks even where logging was set up without `bot.masking.configure_logging`."""

from __future__ import annotations

import logging
import traceback

from bot.masking import mask_personal_data


class ErrorReport:
    """Formats and logs an exception with personal data and secrets masked."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self._secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[SECRET]")
        return mask_personal_data(text)

    def log(self, logger: logging.Logger, what: str, error: BaseException) -> None:
        """Log `what` failed, with the masked traceback of `error`."""
        detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        logger.error("%s\n%s", self.redact(what), self.redact(detail))
