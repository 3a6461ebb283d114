"""How the Telegram channel logs failures: the full traceback, with phone numbers, NIKs and the bot token masked
in the text itself, so nothing leaks even where logging was set up without `bot.core.masking.configure_logging`."""

from __future__ import annotations

import logging
import traceback

from bot.core.masking import Masker


class ErrorReport:
    """Formats and logs an exception with personal data and secrets masked."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self._masker = Masker(secrets)  # the same masking as every log line's (`configure_logging`)

    def redact(self, text: str) -> str:
        return self._masker.mask(text)

    def log(self, logger: logging.Logger, what: str, error: BaseException) -> None:
        """Log `what` failed, with the masked traceback of `error`."""
        detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        logger.error("%s\n%s", self.redact(what), self.redact(detail))
