"""Masking of personal data (phone numbers, NIK) before anything is logged or stored for analytics."""

from __future__ import annotations

import logging
import re

# A NIK is exactly 16 digits; checked first so it is not read as a phone number.
_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
# Indonesian mobile/landline numbers: +62 / 62 / 0 followed by 8-13 more digits, optionally split by spaces, dots or dashes.
_PHONE = re.compile(r"(?<![\w+])(?:\+62|62|0)[\s.-]?\d(?:[\s.-]?\d){7,12}(?!\d)")


def mask_personal_data(text: str) -> str:
    """Replace NIKs and phone numbers with a placeholder that keeps only the last digits."""
    text = _NIK.sub(lambda m: "[NIK ****" + m.group(0)[-2:] + "]", text)
    return _PHONE.sub(lambda m: "[PHONE ****" + re.sub(r"\D", "", m.group(0))[-2:] + "]", text)


def contains_personal_number(text: str) -> bool:
    """True when the text holds a phone number or a NIK."""
    return bool(_NIK.search(text) or _PHONE.search(text))


class MaskingFormatter(logging.Formatter):
    """Formats a record, traceback included, then masks personal data and known secrets in the result."""

    def __init__(self, fmt: str, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(fmt)
        self._secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "[SECRET]")
        return mask_personal_data(text)


def configure_logging(level: str, secrets: tuple[str, ...] = ()) -> None:
    """Log to stderr with personal data and secrets masked on every handler."""
    logging.basicConfig(level=level.upper())
    formatter = MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    # httpx logs full request URLs, which carry the bot token in the path.
    logging.getLogger("httpx").setLevel(logging.WARNING)
