"""Masking of personal data (phone numbers, NIK) and secrets: before anything is logged, printed or stored for
analytics. `configure_logging` puts the one masker behind every log handler and the process's stdout and stderr."""

from __future__ import annotations

import io
import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any, TextIO, cast
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, SecretStr

from bot.settings import Settings

SECRET_PLACEHOLDER = "[SECRET]"

# A NIK is 16 digits: run together, in four groups of four, or as province, city, district, birth date, serial
# (2.2.2.6.4). A grouping uses one separator throughout, so two dates side by side are not read as a NIK.
# Checked before phone numbers, so a NIK is not read as one.
_NIK = re.compile(
    r"(?<!\d)(?:\d{16}"
    r"|\d{4}(?P<four>[ .-])\d{4}(?P=four)\d{4}(?P=four)\d{4}"
    r"|\d{2}(?P<parts>[ .-])\d{2}(?P=parts)\d{2}(?P=parts)\d{6}(?P=parts)\d{4})(?!\d)"
)
# Between the groups of a phone number: a space, or a dot or dash perhaps with spaces ("0812 - 3456").
_SEP = r"(?: ?[.-] ?| )"
# Indonesian phone numbers. The start is +62 or 62 (maybe with "(0)") and an area or operator code, or the trunk
# 0 and that code, or a bare mobile code 8xx followed by a separator ("812-3456-7890"; bare digit runs are more
# often ids); a code may be in brackets. Area and operator codes start with 2-9, which keeps "01.12.2026" a date.
# Then the subscriber digits in up to three groups. A number written as thousands ("850.000.000") is an amount.
_PHONE = re.compile(
    r"(?<![\w+])(?!\d{1,3}(?:\.\d{3})+(?!\d))"
    rf"(?:(?:\+62|62){_SEP}?(?:\(0\) ?)?\(?[2-9]\d{{1,3}}\)?|\(?0[2-9]\d{{1,3}}\)?|\(?8[1-9]\d\)?(?={_SEP}))"
    rf"{_SEP}?\d{{3,8}}(?:{_SEP}?\d{{3,5}}){{0,2}}(?!\d)"
)
# Digits after the country code or trunk 0 that make a phone number; fewer is a code or an amount.
_NATIONAL_DIGITS = range(8, 14)


def _national_digits(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    for prefix in ("620", "62", "0"):
        if digits.startswith(prefix):
            return digits[len(prefix) :]
    return digits


def _is_phone(match: re.Match[str]) -> bool:
    return len(_national_digits(match.group(0))) in _NATIONAL_DIGITS


def _mask_phone(match: re.Match[str]) -> str:
    return "[PHONE ****" + _national_digits(match.group(0))[-2:] + "]" if _is_phone(match) else match.group(0)


def mask_personal_data(text: str) -> str:
    """Replace NIKs and phone numbers with a placeholder that keeps only the last two digits."""
    text = _NIK.sub(lambda m: "[NIK ****" + m.group(0)[-2:] + "]", text)
    return _PHONE.sub(_mask_phone, text)


def contains_personal_number(text: str) -> bool:
    """True when the text holds a phone number or a NIK."""
    return bool(_NIK.search(text)) or any(_is_phone(m) for m in _PHONE.finditer(text))


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """Every secret the settings hold: each `SecretStr` field (in any group), and the database URL's password as
    written and decoded (a driver's error may show either)."""
    values: list[object] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        values += [getattr(value, f) for f in type(value).model_fields] if isinstance(value, BaseModel) else [value]
    secrets = [value.get_secret_value() for value in values if isinstance(value, SecretStr)]
    password = urlsplit(settings.database_url).password
    if password:
        secrets += [password, unquote(password)]
    return tuple(dict.fromkeys(secret for secret in secrets if secret))


class Masker:
    """Masks known secrets, then personal data, in a text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, SECRET_PLACEHOLDER)
        return mask_personal_data(text)


class MaskingFormatter(logging.Formatter):
    """Formats a record, traceback included, then masks personal data and known secrets in the result."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.masker = Masker(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self.masker.mask(super().format(record))


class MaskingStream(io.TextIOBase):
    """A text stream that masks each whole line before writing it to the stream it wraps.

    Text waits for its line to end ("\\n", or the "\\r" of a progress bar), so a number printed in pieces is still
    masked whole; `flush` writes out, masked, whatever waits. For what libraries print themselves (Gradio prints
    event-handler tracebacks with `traceback.print_exc()`), which no log formatter sees.
    """

    def __init__(self, wrapped: TextIO, masker: Masker) -> None:
        super().__init__()
        self.wrapped = wrapped
        self.masker = masker
        self._pending = ""
        # Gradio, uvicorn and the Telegram bot print from several threads. Re-entrant: the wrapped stream may
        # report its own failure to stderr, which is this stream.
        self._lock = threading.RLock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            line_end = max(self._pending.rfind("\n"), self._pending.rfind("\r")) + 1
            if line_end:
                lines, self._pending = self._pending[:line_end], self._pending[line_end:]
                self.wrapped.write(self.masker.mask(lines))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            rest, self._pending = self._pending, ""
            if rest:
                self.wrapped.write(self.masker.mask(rest))
            self.wrapped.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.wrapped.isatty()

    def fileno(self) -> int:
        return self.wrapped.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.wrapped.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.wrapped.errors

    def __getattr__(self, name: str) -> Any:
        # The rest of the wrapped stream's interface (`buffer`, `reconfigure`, ...); bytes written to `buffer`
        # are not masked, and nothing in this project writes any.
        if name == "wrapped":  # not set yet: being built or unpickled
            raise AttributeError(name)
        return getattr(self.wrapped, name)


def _mask_standard_streams(masker: Masker) -> dict[int, MaskingStream]:
    """Wrap sys.stdout and sys.stderr (once; a second call only changes the secrets); returns the wrapper of each
    raw stream by the raw stream's id."""
    wrappers: dict[int, MaskingStream] = {}
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, MaskingStream):
            stream.masker = masker
            wrappers[id(stream.wrapped)] = stream
        elif stream is not None:
            wrapper = MaskingStream(stream, masker)
            setattr(sys, name, cast(TextIO, wrapper))
            wrappers[id(stream)] = wrapper
    return wrappers


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Log to stderr, and print to stdout and stderr, with personal data and secrets masked everywhere."""
    masker = Masker(secrets)
    wrappers = _mask_standard_streams(masker)
    logging.basicConfig()  # a handler on the (now masked) sys.stderr, unless there is one
    root = logging.getLogger()
    root.setLevel(level.upper())
    formatter = MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", masker.secrets)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    # A handler made earlier (by a library, or basicConfig before this) may still hold a raw stream.
    loggers = [root, *(lg for lg in list(root.manager.loggerDict.values()) if isinstance(lg, logging.Logger))]
    for handler in (h for lg in loggers for h in lg.handlers):
        if isinstance(handler, logging.StreamHandler) and id(handler.stream) in wrappers:
            handler.setStream(wrappers[id(handler.stream)])
    # httpx logs full request URLs, which carry the bot token in the path.
    logging.getLogger("httpx").setLevel(logging.WARNING)
