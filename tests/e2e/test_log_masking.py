"""A real process set up as `tanya serve` sets itself up: nothing it logs or prints, through uvicorn's,
python-telegram-bot's or its own loggers, or Gradio-style straight to stderr, carries a NIK, a phone number or
a secret."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support.workspace import REPO

pytestmark = pytest.mark.e2e

NIK = "3273-1234-5678-9123"
PHONE = "(0812) 3456-7890"
SECRET = "987654:webhook-SECRET-value"

CHILD = f"""
import logging, sys, traceback

import telegram.ext
import uvicorn

from bot.core.masking import MaskingStream, configure_logging

logging.basicConfig()  # a handler on the raw stderr, made before (as a library might)
configure_logging("DEBUG", secrets=({SECRET!r},))
configure_logging("DEBUG", secrets=({SECRET!r},))  # a second call must not wrap the streams again
assert isinstance(sys.stderr, MaskingStream) and not isinstance(sys.stderr.wrapped, MaskingStream)
assert isinstance(sys.stdout, MaskingStream) and not isinstance(sys.stdout.wrapped, MaskingStream)
assert [handler.stream for handler in logging.getLogger().handlers] == [sys.stderr]

# The web server's uvicorn settings (ui/app.py): log_config=None leaves uvicorn's loggers to the root handler.
uvicorn.Config(lambda scope, receive, send: None, log_level="warning", log_config=None)
# python-telegram-bot attaches no handler of its own, so its DEBUG records (raw updates, webhook settings) go there.
telegram.ext.ApplicationBuilder().token({SECRET!r}).build()
assert not [name for name, lg in logging.root.manager.loggerDict.items()
            if isinstance(lg, logging.Logger) and lg.handlers], "a library attached its own handler"

personal = "NIK {NIK} phone {PHONE} secret {SECRET}"
logging.getLogger("uvicorn.error").error("uvicorn: %s", personal)
logging.getLogger("telegram.ext.Updater").debug("telegram update: %s", personal)
logging.getLogger().info("root: %s", personal)
try:
    raise RuntimeError("handler failed: " + personal)
except RuntimeError:
    traceback.print_exc()  # how Gradio reports an event handler's failure
print("printed:", personal)
sys.stderr.write("pieces: (0812) 34")
sys.stderr.write("56-7890 3273-1234-")
sys.stderr.write("5678-9123\\n")
"""


def test_nothing_the_process_logs_or_prints_carries_personal_data_or_secrets() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TANYA_") and k != "TELEGRAM_BOT_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=REPO, env=environment, capture_output=True, text=True, timeout=120
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for raw in (NIK, PHONE, SECRET, "3456-7890", "5678-9123", "webhook-SECRET"):
        assert raw not in output
    for line_start in ("uvicorn.error: uvicorn:", "telegram.ext.Updater: telegram update:", "root: root:"):
        assert f"{line_start} NIK [NIK ****23] phone [PHONE ****90] secret [SECRET]" in done.stderr
    assert "Traceback (most recent call last)" in done.stderr
    assert "RuntimeError: handler failed: NIK [NIK ****23] phone [PHONE ****90] secret [SECRET]" in done.stderr
    assert "pieces: [PHONE ****90] [NIK ****23]" in done.stderr
    assert done.stdout == "printed: NIK [NIK ****23] phone [PHONE ****90] secret [SECRET]\n"
