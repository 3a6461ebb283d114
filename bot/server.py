"""`tanya serve`: one process that owns the index and runs the web app and, when configured, the Telegram bot.

Both channels share one Runtime, so an editor's save in the web app is answered with on Telegram at once.
On start the index is synced with the kb/ files (only changed texts are embedded), so a fresh clone serves the
demo knowledge base and offline edits are picked up. A maintenance thread closes idle tickets.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import TYPE_CHECKING, Any, Protocol

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 60.0
# Where the Telegram channel's runner may live (the package layout, or a single module).
_TELEGRAM_RUNNER_MODULES = ("bot.telegram.runner", "bot.telegram_channel")


class _Runner(Protocol):
    def start(self) -> Any: ...

    def stop(self) -> Any: ...


def serve(settings: Settings, *, web: bool, telegram: bool) -> None:
    """Run the selected channels over one engine until interrupted."""
    from bot.cli import CliError
    from bot.runtime import Runtime

    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    if telegram and not web and not token:
        raise CliError("`tanya serve --telegram` needs TELEGRAM_BOT_TOKEN (the token from BotFather).")
    runtime = Runtime.open(settings)
    stop = threading.Event()
    runner: _Runner | None = None
    try:
        _sync_knowledge_base(runtime)
        maintenance = threading.Thread(target=_maintain, args=(runtime, stop), name="tanya-maintenance", daemon=True)
        maintenance.start()
        if telegram and token:
            runner = _telegram_runner(runtime)
            if runner is None and not web:
                raise CliError("The Telegram channel is not installed in this build; run `tanya serve --web`.")
            if runner is not None:
                runner.start()
                log.info("Telegram channel started")
        elif telegram:
            log.info("TELEGRAM_BOT_TOKEN is not set: the Telegram channel is off")
        if web:
            from ui.app import WebServer

            WebServer(runtime).run()
        else:
            while not stop.wait(1.0):  # Ctrl-C interrupts the wait
                pass
    finally:
        stop.set()
        if runner is not None:
            runner.stop()
        runtime.close()


def _sync_knowledge_base(runtime: Runtime) -> None:
    """Bring the index in line with the kb/ folder before serving (a no-op when nothing changed)."""
    from ingest.knowledge_base import load_knowledge_base
    from ingest.sync import sync_index

    kb_dir = runtime.settings.kb_dir
    if not kb_dir.is_dir():
        log.warning("No knowledge base at %s; serving the index as it is", kb_dir)
        return
    summary = sync_index(runtime.engine.index, load_knowledge_base([kb_dir], kb_dir), show_progress=False)
    runtime.engine.refresh()
    log.info("Index in line with %s: %s", kb_dir, summary)


def _telegram_runner(runtime: Runtime) -> _Runner | None:
    for name in _TELEGRAM_RUNNER_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        runner_class = getattr(module, "TelegramRunner", None)
        if runner_class is not None:
            return runner_class(runtime)
    log.warning("The Telegram channel is not available in this build; serving the web app only")
    return None


def _maintain(runtime: Runtime, stop: threading.Event) -> None:
    """Close idle tickets every minute until `stop` is set."""
    while not stop.wait(MAINTENANCE_SECONDS):
        try:
            closed = runtime.conversations.close_idle_tickets()
            if closed:
                log.info("Closed %d idle ticket(s)", len(closed))
        except Exception:  # one failed round must not end maintenance for the life of the server
            log.exception("Ticket maintenance failed")
