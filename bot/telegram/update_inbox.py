"""The durable inbox: no update is lost to a crash, and none is handled twice because Telegram sent it twice.

python-telegram-bot tells Telegram an update arrived as soon as it is in the Application's update queue (long
polling moves the offset past a batch once `put` returned for all of it; the webhook answers 200 after `put`).
`UpdateInbox` is that queue, and its `put` stores the update in the database first; an update already stored is a
repeated delivery and is not queued again. `InboxApplication` marks an update done once its handlers have run; on
start, `UpdateInbox.resume` queues again, oldest first, every update a killed process left unfinished.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.telegram.channel_store import TelegramChannelStore

log = logging.getLogger(__name__)

T = TypeVar("T")

# Starts that may find one update unfinished before it is given up (it would otherwise kill every start).
RESUMES_BEFORE_GIVING_UP = 3


class InboxUnavailableError(TelegramError):
    """An update could not be stored, so Telegram must not be told it arrived. A TelegramError, because that is
    what python-telegram-bot retries: polling tries the batch again later (the offset has not moved), and the
    webhook answers 500 so Telegram sends it again; any other error would end polling for good."""


class UpdateInbox(asyncio.Queue[object]):
    """The Application's update queue, backed by the `telegram_updates` table."""

    def __init__(self, store: TelegramChannelStore) -> None:
        super().__init__()
        self.store = store
        self._bot_id: int | None = None
        self._resumed: dict[int, datetime] = {}  # update id -> when it was received, until it is done
        self._unmarked: set[int] = set()  # done, waiting for the next batch of marks to be written
        self._in_hand: set[int] = set()  # queued here and not done: no sweep for other replicas' updates takes them
        self._marking = asyncio.Lock()  # one batch in flight; the marks arriving meanwhile make up the next
        # The inbox's own threads, not the shared pool where answers are computed: polling waits for every `put`,
        # and the time between a reply going out and its update marked done is when a kill sends it twice. Marks
        # have a thread of their own so that they never queue behind a burst of arriving updates.
        self._intake = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telegram-inbox")
        self._marks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telegram-inbox-done")

    async def resume(self, bot: Bot, received_before: datetime | None = None) -> int:
        """Open the inbox for `bot` and queue every update left unfinished by a previous run, oldest first; call
        before polling or the webhook begins. Returns how many were queued. Called again later with
        `received_before`, it takes over what another replica received that long ago and never finished (it
        died): never an update this inbox holds."""
        self._bot_id = bot.id
        resumed, given_up = await _run(
            self._intake,
            self.store.resume_unfinished,
            bot.id,
            RESUMES_BEFORE_GIVING_UP,
            received_before,
            set(self._in_hand),
        )
        for update_id in given_up:
            log.error(
                "Update %s was left unfinished by %d starts in a row; given up", update_id, RESUMES_BEFORE_GIVING_UP
            )
        for stored in resumed:
            if stored.payload is None:  # cannot happen for an unfinished update; nothing to run if it did
                continue
            self._resumed[stored.update_id] = stored.received_at
            self._in_hand.add(stored.update_id)
            super().put_nowait(Update.de_json(json.loads(stored.payload), bot))  # stored already: not `put`
        if resumed:
            log.info("Resuming %d update(s) received before the restart but not handled", len(resumed))
        return len(resumed)

    async def put(self, item: object) -> None:
        """Store an update, then queue it; a repeated delivery of a stored update is dropped. Anything else (the
        Application's stop signal) is queued as it is."""
        if isinstance(item, Update):
            payload = json.dumps(item.to_dict(), ensure_ascii=False)
            try:
                first = await _run(self._intake, self.store.receive_update, self._opened_for(), item.update_id, payload)
            except SQLAlchemyError as error:
                raise InboxUnavailableError(f"update {item.update_id} could not be stored: {_reason(error)}") from None
            if not first:
                log.info("Update %s was delivered again; dropped", item.update_id)
                return
            self._in_hand.add(item.update_id)
        await super().put(item)

    async def mark_done(self, update: Update) -> None:
        """The update needs nothing more: a restart does not run it again. Returns once that is stored; marks
        arriving together are written in one transaction (while the bot is busy a mark would otherwise queue
        behind the others, and a kill in that time sends the reply again). Idempotent."""
        self._unmarked.add(update.update_id)
        self._resumed.pop(update.update_id, None)
        self._in_hand.discard(update.update_id)
        async with self._marking:
            if update.update_id not in self._unmarked:  # the batch before took it
                return
            batch, self._unmarked = self._unmarked, set()
            try:
                await _run(self._marks, self.store.mark_updates_done, self._opened_for(), batch)
            except SQLAlchemyError as error:  # the customers have their answers: no error handler must apologise
                log.warning(
                    "Updates %s could not be marked done (they run again after a restart): %s",
                    sorted(batch),
                    _reason(error),
                )

    def key_of(self, update: Update) -> tuple[int, int] | None:
        """(bot id, update id): how a reply queued by a handler names the update it marks done in the same step;
        None before the inbox is opened (nothing to mark)."""
        if self._bot_id is None:
            return None
        return self._bot_id, update.update_id

    def received_before_restart(self, update: Update) -> datetime | None:
        """When a resumed update was first received (its first run may have done part of its work); None for an
        update of this run."""
        return self._resumed.get(update.update_id)

    def close(self) -> None:
        """Release the inbox's threads (after the Application has stopped)."""
        self._intake.shutdown(wait=True)
        self._marks.shutdown(wait=True)

    def _opened_for(self) -> int:
        if self._bot_id is None:
            raise RuntimeError("UpdateInbox.resume(bot) must run before updates arrive")
        return self._bot_id


def _reason(error: SQLAlchemyError) -> str:
    # The driver's own message ("database is locked"): SQLAlchemy's adds the statement's parameters, which hold
    # what the customer typed.
    return str(getattr(error, "orig", None) or type(error).__name__)


async def _run(executor: ThreadPoolExecutor, function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(executor, function, *args)


class InboxApplication(Application[Any, Any, Any, Any, Any, Any]):
    """The Application that marks each update done in its `UpdateInbox` once its handlers have run."""

    async def process_update(self, update: object) -> None:
        """Run the handlers, then mark the update done. A handler that raised has been reported (the error handler
        told the customer), so the update is done too; only a process stopped mid-handler leaves it unfinished."""
        try:
            await super().process_update(update)
        except Exception:  # not a handler's error (those are reported inside): running it again would fail again
            await self._mark_done(update)
            raise
        await self._mark_done(update)

    async def _mark_done(self, update: object) -> None:
        if isinstance(update, Update) and isinstance(self.update_queue, UpdateInbox):
            await self.update_queue.mark_done(update)
