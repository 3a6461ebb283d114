"""Running the Telegram bot: long polling by default, or a webhook server when a webhook URL is set.

The Application runs in a background thread with its own event loop, so `tanya serve` can run it beside the
web app in one process over one `Runtime`. Updates a previous run stored but did not finish are queued again
before the first new one is received.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import suppress
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from telegram.ext import Application

from bot.core.clock import utcnow
from bot.core.cluster import TELEGRAM_ORPHANS
from bot.services.runtime import Runtime
from bot.telegram.application import ALLOWED_UPDATES, TelegramChannel, check_settings
from bot.telegram.outbox_courier import STOP_GRACE_SECONDS

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]

# An update another replica received this long ago and never finished is taken over: that replica died (a live one
# finishes in seconds; after a restart it resumes its own at once). Checked once a round by one replica.
ORPHAN_AFTER = timedelta(minutes=10)
ORPHAN_ROUND_SECONDS = 60.0


class TelegramRunner:
    """Starts and stops the bot in a background thread; `start()` returns once updates are being received."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.channel = TelegramChannel(runtime)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 60.0) -> None:
        """Connect to Telegram (getMe), start polling or the webhook server and the outbox courier."""
        check_settings(self.runtime.settings)
        # httpx logs every request URL at INFO, and the URL carries the bot token.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        self._thread = threading.Thread(target=self._run, name="telegram-bot", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the Telegram bot did not start within {timeout:.0f} s")
        if self._failure is not None:
            self._thread.join(timeout)
            raise self._failure

    def stop(self, timeout: float = 30.0) -> None:
        """Stop receiving updates, finish the updates in hand, and shut the Application down (an update not
        finished within `timeout` stays in the inbox and is handled after the next start)."""
        if self._loop is not None and self._stop_event is not None and self.is_running:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to start(), or logged when the bot dies later
            if not self._ready.is_set():
                self._failure = error
                self._ready.set()
            else:
                self.channel.errors.log(log, "The Telegram bot stopped on an error", error)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        application = self.channel.build_application()
        courier: asyncio.Task[None] | None = None
        sweeper: asyncio.Task[None] | None = None
        try:
            await application.initialize()
            await self.channel.inbox.resume(application.bot)
            await self._receive_updates(application)
            await application.start()
            courier = asyncio.create_task(self.channel.courier.run(application.bot), name="telegram-outbox")
            sweeper = asyncio.create_task(self._take_over_orphans(application), name="telegram-orphans")
            log.info("Telegram bot @%s is running", application.bot.username)
            self._ready.set()
            await self._stop_event.wait()
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with suppress(asyncio.CancelledError):
                    await sweeper
            if courier is not None:
                await self._stop_courier(courier)
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()
            self.channel.inbox.close()
            log.info("Telegram bot stopped")

    async def _take_over_orphans(self, application: App) -> None:
        """Every round, on the replica holding the lease: queue here the updates a dead replica left unfinished."""
        leases = self.runtime.leases
        while True:
            await asyncio.sleep(ORPHAN_ROUND_SECONDS)
            try:
                if await asyncio.to_thread(leases.hold, TELEGRAM_ORPHANS, 3 * ORPHAN_ROUND_SECONDS):
                    taken = await self.channel.inbox.resume(application.bot, utcnow() - ORPHAN_AFTER)
                    if taken:
                        log.warning("Took over %d update(s) another replica received but never finished", taken)
            except Exception as error:  # the next round tries again
                self.channel.errors.log(log, "Could not check for unfinished updates of other replicas", error)

    async def _stop_courier(self, courier: asyncio.Task[None]) -> None:
        """Let the courier record what it is sending (a message Telegram took but the outbox still holds would
        go again after the restart), then cancel it if it hangs."""
        self.channel.courier.stop()
        try:
            await asyncio.wait_for(asyncio.shield(courier), STOP_GRACE_SECONDS)
        except TimeoutError:
            log.warning("The outbox courier did not stop within %.0f s; cancelled", STOP_GRACE_SECONDS)
        except Exception as error:
            self.channel.errors.log(log, "The outbox courier stopped on an error", error)
        if not courier.done():
            courier.cancel()
            with suppress(asyncio.CancelledError):
                await courier

    async def _receive_updates(self, application: App) -> None:
        settings = self.runtime.settings
        assert application.updater is not None
        if not settings.telegram.webhook_url:
            await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
            return
        assert settings.telegram.webhook_secret is not None
        await application.updater.start_webhook(
            listen=settings.telegram.webhook_listen,
            port=settings.telegram.webhook_port,
            url_path=urlsplit(settings.telegram.webhook_url).path.lstrip("/"),
            webhook_url=settings.telegram.webhook_url,
            secret_token=settings.telegram.webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
        )
