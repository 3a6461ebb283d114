"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests of the real python-telegram-bot stack and for
the load benchmark (`evals.load_benchmark`); the tests import it through `tests/support/fake_bot_api.py`.

It serves queued updates to getUpdates (long polling, at most `limit` a call: 100 unless the bot asks for fewer,
as Telegram does), answers sendMessage and friends the way Telegram does
(including "can't parse entities" for bad HTML and "message is too long" past 4,096), records every request with
the time it arrived, can answer one request with 429 retry_after, and can post updates to the bot's webhook.
By default an update is gone once served; with `keep_until_confirmed` it is served again until a later getUpdates
confirms it with a higher offset, as Telegram does. Observers see each request as it is recorded, before it is
answered (a test can kill the bot at that instant).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, TypeVar

import httpx
from aiohttp import web

T = TypeVar("T")

BOT_ID = 7_000_001
BOT_USERNAME = "tanya_test_bot"
TEXT_LIMIT = 4096
UPDATES_LIMIT = 100  # the most updates one getUpdates returns (Telegram's limit and default)
# Update and message ids are unique across every fake server in the test run, as Telegram's are per bot.
_ids = itertools.count(1)


def continue_ids_after(last: int) -> None:
    """Make every id from here on greater than `last` (a bot whose database saw ids of an earlier run of this process
    or of another: a repeated update id would read as a repeated delivery)."""
    global _ids
    _ids = itertools.count(max(next(_ids), last + 1))


# Fields Telegram takes as plain strings; python-telegram-bot JSON-encodes every other parameter.
_STRING_FIELDS = {"text", "caption", "parse_mode", "callback_query_id", "url", "secret_token", "query"}
_ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "span",
    "blockquote",
    "tg-emoji",
}


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made: the Bot API method, its parameters, when it arrived, the status answered."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() on arrival
    status: int


@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str
    language_code: str = "id"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "is_bot": False, "first_name": self.first_name, "language_code": self.language_code}


@dataclass
class _Queued:
    update: dict[str, Any]
    served: bool = False


@dataclass
class _State:
    updates: list[_Queued] = field(default_factory=list)
    calls: list[ApiCall] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    webhook: dict[str, Any] | None = None


class _TelegramHtml(HTMLParser):
    """Checks text the way Telegram parses parse_mode=HTML: known tags, balanced; collects the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.visible: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            self.error = f'unsupported start tag "{tag}"'
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.error = f'unexpected end tag "{tag}"'

    def handle_data(self, data: str) -> None:
        self.visible.append(data)


def check_html(text: str) -> tuple[str | None, str]:
    """(error, visible text) for a parse_mode=HTML message."""
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    error = parser.error or (f'tag "{parser.open[-1]}" is not closed' if parser.open else None)
    return error, "".join(parser.visible)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeBotApi:
    """The fake server; use as a context manager. `base_url` is what TANYA_TELEGRAM_BASE_URL should be."""

    def __init__(self, token: str, keep_until_confirmed: bool = False) -> None:
        self.token = token
        self.keep_until_confirmed = keep_until_confirmed
        self.bot_user = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Tanya",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._state = _State()
        self._observers: list[Callable[[ApiCall], None]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_updates: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._closing = False
        self._thread: threading.Thread | None = None
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # --- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> FakeBotApi:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        started = threading.Event()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(started),), name="fake-bot-api", daemon=True
        )
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake Bot API did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    async def _serve(self, started: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._new_updates = asyncio.Event()
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        # handler_cancellation: a long poll the bot abandoned (on stop) must not swallow the next updates.
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.SockSite(runner, self._socket).start()
        started.set()
        await self._stopping.wait()
        self._closing = True
        self._new_updates.set()  # ends waiting long polls
        await runner.cleanup()

    # --- what Telegram would send the bot -------------------------------------------------------
    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (the same dict twice is a repeated delivery)."""
        return self.push_all([update])[0]

    def push_all(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Queue updates together, so one getUpdates serves them all (many users writing at once)."""
        with self._lock:
            self._state.updates.extend(_Queued(u) for u in updates)
        if self._loop is not None and self._new_updates is not None:
            self._loop.call_soon_threadsafe(self._new_updates.set)
        return updates

    def message_update(
        self,
        user: FakeUser,
        text: str | None = None,
        chat_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        """An update with a new message from `user` (in their private chat unless `chat_id` is a group)."""
        chat_id = user.id if chat_id is None else chat_id
        message: dict[str, Any] = {
            "message_id": next(_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id, user),
            "from": user.as_json(),
            **content,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        with self._lock:
            self._state.messages[(chat_id, message["message_id"])] = message
        return {"update_id": next(_ids), "message": message}

    def send_text(
        self, user: FakeUser, text: str, chat_id: int | None = None, reply_to: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A user types `text` (a reply when `reply_to` is a message); returns the queued update."""
        return self.push(self.message_update(user, text, chat_id, reply_to))

    def send_content(self, user: FakeUser, **content: Any) -> dict[str, Any]:
        """A user sends a sticker, photo, voice note or document (e.g. `sticker={...}`)."""
        return self.push(self.message_update(user, None, **content))

    def press(self, user: FakeUser, message: dict[str, Any], data: str) -> dict[str, Any]:
        """A user presses an inline button with callback `data` under the bot's `message`."""
        update_id = next(_ids)
        query = {"id": str(update_id), "from": user.as_json(), "chat_instance": "ci", "data": data, "message": message}
        return self.push({"update_id": update_id, "callback_query": query})

    def fail_next(self, method: str, retry_after: int) -> None:
        """Answer the next call of `method` with 429 Too Many Requests and this retry_after."""
        with self._lock:
            self._state.failures[method] = retry_after

    def post_webhook(self, update: dict[str, Any], secret: str | None) -> int:
        """POST an update to the webhook the bot registered, with this secret-token header; returns the status."""
        webhook = self.webhook
        assert webhook is not None, "the bot has not called setWebhook"
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        with httpx.Client(trust_env=False, timeout=10) as client:
            return client.post(webhook["url"], json=update, headers=headers).status_code

    def observe(self, observer: Callable[[ApiCall], None]) -> None:
        """Call `observer` with every request as it is recorded, on the server's thread, before it is answered."""
        with self._lock:
            self._observers.append(observer)

    # --- inspection -----------------------------------------------------------------------------
    @property
    def webhook(self) -> dict[str, Any] | None:
        with self._lock:
            return self._state.webhook

    def calls(self, method: str | None = None) -> list[ApiCall]:
        with self._lock:
            return [c for c in self._state.calls if method is None or c.method == method]

    def sent(self, chat_id: int) -> list[dict[str, Any]]:
        """Messages the bot sent to a chat, oldest first (with their current buttons)."""
        with self._lock:
            return [
                m
                for (chat, _), m in sorted(self._state.messages.items(), key=lambda kv: kv[0][1])
                if chat == chat_id and m["from"]["id"] == BOT_ID
            ]

    def wait_for(self, check: Callable[[], T | None], what: str, timeout: float = 20.0) -> T:
        """Poll `check` every 50 ms until it returns something truthy; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                recent = [(c.method, c.params.get("chat_id"), str(c.params.get("text", ""))[:60]) for c in self.calls()]
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; recent calls: {recent[-8:]}")
            time.sleep(0.05)

    def wait_for_messages(self, chat_id: int, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until the bot has sent at least `count` messages to `chat_id`; returns them all."""
        return self.wait_for(
            lambda: sent if len(sent := self.sent(chat_id)) >= count else None,
            f"{count} message(s) to chat {chat_id}",
            timeout,
        )

    # --- the Bot API ----------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        arrived = time.monotonic()
        if request.match_info["token"] != self.token:
            return self._answer(
                method, {}, arrived, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
        params = await _params(request)
        with self._lock:
            retry_after = self._state.failures.pop(method, None)
        if retry_after is not None:
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after},
            }
            return self._answer(method, params, arrived, 429, body)
        if method == "getUpdates":
            self._record(method, params, arrived, 200)
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        handler = self._methods().get(method)
        if handler is None:
            return self._answer(
                method, params, arrived, 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            )
        try:
            result = handler(params)
        except _BadRequest as error:
            body = {"ok": False, "error_code": 400, "description": f"Bad Request: {error}"}
            return self._answer(method, params, arrived, 400, body)
        return self._answer(method, params, arrived, 200, {"ok": True, "result": result})

    def _answer(
        self, method: str, params: dict[str, Any], at: float, status: int, body: dict[str, Any]
    ) -> web.Response:
        self._record(method, params, at, status)
        return web.json_response(body, status=status)

    def _record(self, method: str, params: dict[str, Any], at: float, status: int) -> None:
        call = ApiCall(method, params, at, status)
        with self._lock:
            self._state.calls.append(call)
            observers = list(self._observers)
        for observer in observers:
            observer(call)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        assert self._new_updates is not None
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 30.0)
        while True:
            with self._lock:
                updates = self._serve_updates(int(params.get("offset") or 0), _update_limit(params))
                self._new_updates.clear()
            if updates or self._closing or time.monotonic() >= deadline:
                return updates
            try:
                await asyncio.wait_for(self._new_updates.wait(), deadline - time.monotonic())
            except TimeoutError:
                return []

    def _serve_updates(self, offset: int, limit: int = UPDATES_LIMIT) -> list[dict[str, Any]]:
        """The first `limit` updates waiting, for a getUpdates (call with the lock held). An update served before and
        now confirmed by `offset` is dropped; a repeated delivery queued by `push` is served once whatever its id."""
        queue = self._state.updates
        if not self.keep_until_confirmed:
            self._state.updates = queue[limit:]
            return [q.update for q in queue[:limit]]
        queue[:] = [q for q in queue if not (q.served and q.update["update_id"] < offset)]
        for queued in queue[:limit]:
            queued.served = True
        return [q.update for q in queue[:limit]]

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "getMe": lambda _p: self.bot_user,
            "deleteWebhook": self._set_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": lambda _p: {"url": "", "has_custom_certificate": False, "pending_update_count": 0},
            "setMyCommands": lambda _p: True,
            "answerCallbackQuery": lambda _p: True,
            "sendMessage": self._send_message,
            "editMessageReplyMarkup": self._edit_reply_markup,
        }

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._state.webhook = (
                {"url": params["url"], "secret_token": params.get("secret_token")} if params.get("url") else None
            )
        return True

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        text = str(params.get("text", ""))
        visible = text
        if params.get("parse_mode") == "HTML":
            error, visible = check_html(text)
            if error:
                raise _BadRequest(f"can't parse entities: {error}")
        if not visible.strip():
            raise _BadRequest("message text is empty")
        if _utf16_len(visible) > TEXT_LIMIT:
            raise _BadRequest("message is too long")
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id, None),
            "from": self.bot_user,
            "text": visible,
            "html": text,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        reply_to = (params.get("reply_parameters") or {}).get("message_id")
        with self._lock:
            if reply_to is not None and (chat_id, reply_to) in self._state.messages:
                message["reply_to_message"] = self._state.messages[(chat_id, reply_to)]
            self._state.messages[(chat_id, message["message_id"])] = message
        return message

    def _edit_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        with self._lock:
            if key not in self._state.messages:
                raise _BadRequest("message to edit not found")
            message = self._state.messages[key]
            message["reply_markup"] = params.get("reply_markup") or {"inline_keyboard": []}
            return message

    @staticmethod
    def _chat(chat_id: int, user: FakeUser | None) -> dict[str, Any]:
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": "Petugas Tanya"}
        return {"id": chat_id, "type": "private", "first_name": user.first_name if user else "Pelanggan"}


class _BadRequest(Exception):
    pass


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return dict(await request.json())
    form = await request.post()
    return {key: value if key in _STRING_FIELDS else _json_or_text(str(value)) for key, value in form.items()}


def _update_limit(params: dict[str, Any]) -> int:
    """getUpdates' `limit`: 1 to 100, 100 when not given (as Telegram reads it)."""
    try:
        asked = int(params.get("limit") or UPDATES_LIMIT)
    except (TypeError, ValueError):
        asked = UPDATES_LIMIT
    return max(1, min(UPDATES_LIMIT, asked))


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


# Content of the non-text messages customers send.
STICKER = {
    "sticker": {
        "file_id": "stk",
        "file_unique_id": "stk-u",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
}
PHOTO = {"photo": [{"file_id": "pho", "file_unique_id": "pho-u", "width": 90, "height": 90}]}
VOICE = {"voice": {"file_id": "voi", "file_unique_id": "voi-u", "duration": 3}}
DOCUMENT = {"document": {"file_id": "doc", "file_unique_id": "doc-u", "file_name": "tagihan.pdf"}}
