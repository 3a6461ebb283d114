"""Load figures (a benchmark that prints, never a test that asserts): `python -m evals.load_benchmark`.

    python -m evals.load_benchmark [--chats 100 --questions 10] [--telegram-updates 1000 --telegram-chats 200]

Serves the demo knowledge base as an operator does (`tanya serve` in a child process, over a private copy of kb/,
its own index, database and web-state key in a temporary folder; the models from the shared cache) and prints:

(a) the web chat: `--chats` customers at once, each its own Gradio session asking `--questions` questions through
    the `/chat` API over HTTP, first with no pause between a reply and the next question (the worst case), then
    with a think time (`--think 2 5`: a random pause per message, seeded per chat, before every question): the
    seconds per answer (p50 / p95 / max, from sending the question to the reply), throughput and errors;
(b) Telegram: `--telegram-updates` messages from `--telegram-chats` private chats handed to the bot at once by a
    fake Bot API (`evals.fake_bot_api`, keeping updates until confirmed as Telegram does): the time until every
    update's reply was sent to the fake API, and how many updates were answered 0, 1 or more than once.

Questions come from the labelled demo set (`evals/sets/demo.csv`, its handoff rows left out). By default
(`--pool screened`) only those the model handles without a handoff are used, found by asking each once first (the
warm-up): after a handoff every later message of that chat would be a cheap "passed to the officer" notice, and on
Telegram a post in the officers' group, which Telegram allows 20 a minute. `--pool labelled` keeps them all.

The client is a light asyncio one by default (httpx against Gradio's queue API: POST queue/join, then the SSE
stream of queue/data, as the browser does); `--client gradio` uses one `gradio_client.Client` per chat instead
(each with its own threads). The CPU each side used is printed, so the client's share of the two cores shows, with
the machine's load average (other work on the machine competes for the same cores). The per-address and
per-customer message limits are off in the served process: every simulated customer comes from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.core import phrases
from bot.settings import get_settings, is_tuned
from evals.fake_bot_api import BOT_ID, FakeBotApi, FakeUser, check_html, continue_ids_after
from evals.harness import DEMO_KB, REPO, CpuMeter, ServedTanya, Workspace, free_port, percentile
from evals.labelled_set import load_labelled_set
from ui import concurrency

QUESTIONS = REPO / "evals" / "sets" / "demo.csv"
ANSWER_TIMEOUT_SECONDS = 120.0
DRAIN_TIMEOUT_SECONDS = 900.0
TOKEN = "123456789:LOAD-benchmark-token-0123456789abcdef"
OFFICERS_CHAT = -100_999_000
OFFICER = FakeUser(990_001, "Sari")
IDLE_CORES = 0.15  # a server below this load is idle (polling Telegram, heartbeats)


# --- figures ---------------------------------------------------------------------------------------------
@dataclass
class WebRun:
    """One web scenario's outcome."""

    label: str
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    cpu: str = ""
    stream: Counter[str] = field(default_factory=Counter)  # the queue's messages the light client read, by kind

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.5)

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 0.95)

    @property
    def worst(self) -> float:
        return max(self.latencies, default=0.0)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def line(self) -> str:
        errors = sum(self.errors.values())
        detail = f" ({', '.join(f'{n} {kind}' for kind, n in self.errors.most_common())})" if errors else ""
        kinds = ", ".join(f"{n} {kind}" for kind, n in self.replies.most_common())
        return (
            f"  {self.label}: {len(self.latencies)} answers in {self.wall:.1f} s = {self.throughput:.1f}/s; "
            f"per answer p50 {self.p50:.2f} s, p95 {self.p95:.2f} s, max {self.worst:.2f} s; "
            f"errors {errors}{detail}\n    replies: {kinds}\n    {self.cpu}{self._stream_line()}"
        )

    def _stream_line(self) -> str:
        if not self.stream or not self.latencies:
            return ""
        per = ", ".join(f"{n / len(self.latencies):.1f} {kind}" for kind, n in self.stream.most_common())
        return f"\n    queue messages per answer: {per}"


def reply_kind(text: str) -> str:
    """What a /chat reply is, from its text: the bot's notices are fixed sentences."""
    for kind, phrase in (
        ("forwarded to an officer", phrases.FORWARDED),
        ("throttled", phrases.TOO_MANY_MESSAGES),
        ("handoff refused (limit)", phrases.TOO_MANY_HANDOFFS),
        ("declined (off-topic)", phrases.DECLINE),
        ("refused (privacy)", phrases.REFUSE),
    ):
        if text in phrase.values():
            return kind
    return "answers or handoffs"


# --- the web chat's clients ------------------------------------------------------------------------------
class ChatError(Exception):
    """A /chat call that did not return a reply."""


@dataclass(frozen=True)
class ChatApi:
    """Where the customer chat's /chat endpoint is: the queue's URL prefix and the event's fn_index."""

    api_url: str  # e.g. http://127.0.0.1:7860/gradio_api/
    fn_index: int

    @classmethod
    def discover(cls, url: str) -> ChatApi:
        config = httpx.get(f"{url}config", timeout=30).raise_for_status().json()
        prefix = str(config.get("api_prefix", "/gradio_api")).strip("/")
        for index, dependency in enumerate(config["dependencies"]):
            if dependency.get("api_name") == "chat":
                return cls(f"{url}{prefix}/", int(dependency.get("id", index)))
        raise RuntimeError("the web app has no /chat endpoint")


async def ask_light(
    http: httpx.AsyncClient, api: ChatApi, session_hash: str, text: str, seen: Counter[str] | None = None
) -> str:
    """One /chat call the way Gradio's own page makes it: join the queue, then read the session's event stream
    (`seen` counts its messages by kind: estimations, process_starts, ...)."""
    try:
        joined = await http.post(
            f"{api.api_url}queue/join",
            json={"data": [text], "fn_index": api.fn_index, "session_hash": session_hash, "event_data": None},
        )
    except httpx.HTTPError as error:
        raise ChatError(f"queue/join {type(error).__name__}") from error
    if joined.status_code != 200:
        raise ChatError(f"queue/join HTTP {joined.status_code}")
    try:
        return await _read_reply(http, api, session_hash, seen)
    except httpx.HTTPError as error:
        raise ChatError(f"queue/data {type(error).__name__}") from error


async def _read_reply(http: httpx.AsyncClient, api: ChatApi, session_hash: str, seen: Counter[str] | None) -> str:
    reply: str | None = None
    async with http.stream("GET", f"{api.api_url}queue/data", params={"session_hash": session_hash}) as stream:
        if stream.status_code != 200:
            raise ChatError(f"queue/data HTTP {stream.status_code}")
        async for line in stream.aiter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            kind = message.get("msg")
            if seen is not None:
                seen[str(kind)] += 1
            if kind == "process_completed":
                if not message.get("success", False):
                    raise ChatError(f"app error: {str(message.get('output', {}).get('error'))[:80]}")
                reply = str(message["output"]["data"][0])
            elif kind == "unexpected_error":
                raise ChatError(f"unexpected error: {str(message.get('message'))[:80]}")
            elif kind == "close_stream":
                break
    if reply is None:
        raise ChatError("stream ended without a reply")
    return reply


@dataclass(frozen=True)
class Customer:
    """One web chat: its questions and the pause before each."""

    questions: list[str]
    pauses: list[float]


def customers(
    pool: list[str], chats: int, questions: int, think: tuple[float, float] | None, seed: int
) -> list[Customer]:
    made = []
    for number in range(chats):
        rng = random.Random(seed * 100_003 + number)
        asked = rng.sample(pool, questions) if questions <= len(pool) else rng.choices(pool, k=questions)
        pauses = [rng.uniform(*think) if think else 0.0 for _ in asked]
        made.append(Customer(asked, pauses))
    return made


async def run_light(url: str, people: list[Customer], run: WebRun) -> None:
    api = ChatApi.discover(url)
    # Idle connections are dropped after 2 s, before uvicorn closes its end (5 s): a request sent on a connection
    # the server is closing fails, and a browser would retry it where httpx does not.
    limits = httpx.Limits(
        max_connections=len(people) + 10, max_keepalive_connections=len(people) + 10, keepalive_expiry=2.0
    )
    timeout = httpx.Timeout(ANSWER_TIMEOUT_SECONDS, connect=30)
    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as http:

        async def chat(person: Customer, number: int) -> None:
            session_hash = f"load-{number}-{uuid.uuid4().hex}"  # a new customer every run
            for text, pause in zip(person.questions, person.pauses, strict=True):
                await asyncio.sleep(pause)
                started = time.perf_counter()
                try:
                    reply = await ask_light(http, api, session_hash, text, run.stream)
                except (ChatError, httpx.HTTPError) as error:
                    run.errors[_error_kind(error)] += 1
                    continue
                run.latencies.append(time.perf_counter() - started)
                run.replies[reply_kind(reply)] += 1

        started = time.perf_counter()
        await asyncio.gather(*(chat(person, n) for n, person in enumerate(people)))
        run.wall = time.perf_counter() - started


def gradio_clients(url: str, count: int) -> list[Any]:
    """One gradio_client.Client per chat, made before the clock starts (their start-up is not part of any figure)."""
    from gradio_client import Client

    return [Client(url, verbose=False) for _ in range(count)]


def run_gradio_client(clients: list[Any], people: list[Customer], run: WebRun) -> None:
    lock = threading.Lock()

    def chat(person: Customer, client: Any) -> None:
        for text, pause in zip(person.questions, person.pauses, strict=True):
            time.sleep(pause)
            started = time.perf_counter()
            try:
                reply = str(client.predict(text, api_name="/chat"))
            except Exception as error:  # gradio_client raises its own error types
                with lock:
                    run.errors[_error_kind(error)] += 1
                continue
            elapsed = time.perf_counter() - started
            with lock:
                run.latencies.append(elapsed)
                run.replies[reply_kind(reply)] += 1

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(people)) as pool:
            list(pool.map(chat, people, clients))
        run.wall = time.perf_counter() - started
    finally:
        for client in clients:
            client.close()


async def _ask_each(url: str, questions: list[str]) -> list[str]:
    api = ChatApi.discover(url)
    async with httpx.AsyncClient(timeout=ANSWER_TIMEOUT_SECONDS, trust_env=False) as http:
        return [await ask_light(http, api, f"screen-{uuid.uuid4().hex}", text) for text in questions]


def screened(url: str, workspace: Workspace, pool: list[str]) -> tuple[list[str], Counter[str]]:
    """The questions this model handles without handing the customer to an officer, found by asking each once, one
    at a time, each from a new customer (this is also the warm-up), and reading the outcomes the server recorded.
    A handoff would make every later message of that chat a cheap "passed to the officer" notice."""
    last = int(str(workspace.query("SELECT coalesce(max(id), 0) FROM interactions")[0][0]))
    asyncio.run(_ask_each(url, pool))
    rows = workspace.query("SELECT outcome FROM interactions WHERE id > ? AND channel = 'web' ORDER BY id", last)
    outcomes = [str(row[0]) for row in rows]
    if len(outcomes) != len(pool):  # not one interaction per question: keep them all rather than guess
        return pool, Counter(outcomes)
    return [q for q, outcome in zip(pool, outcomes, strict=True) if outcome != "handoff"], Counter(outcomes)


def _error_kind(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:60]}" if str(error) else type(error).__name__


def web_scenario(served: ServedTanya, url: str, people: list[Customer], label: str, client: str) -> WebRun:
    run = WebRun(label)
    clients = gradio_clients(url, len(people)) if client == "gradio" else []
    with CpuMeter(served) as meter:
        if client == "gradio":
            run_gradio_client(clients, people, run)
        else:
            asyncio.run(run_light(url, people, run))
    run.cpu = meter.summary()
    return run


# --- Telegram --------------------------------------------------------------------------------------------
@dataclass
class TelegramRun:
    """One Telegram burst's outcome."""

    updates: int
    chats: int
    drained: float | None = None  # seconds from the burst to the last reply the fake API received
    answered: Counter[int] = field(default_factory=Counter)  # times answered -> updates
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    by_order: int = 0  # updates whose reply has no feedback buttons, matched by their order in the chat
    odd: list[str] = field(default_factory=list)  # updates answered other than once, described
    last_reply: float | None = None  # seconds from the burst to the last reply (to a customer or the group)
    cpu: str = ""

    def line(self) -> str:
        drained = f"drained in {self.drained:.1f} s" if self.drained is not None else "NOT drained"
        once = self.answered[1]
        none = self.answered[0]
        more = sum(n for times, n in self.answered.items() if times > 1)
        kinds = ", ".join(f"{n} {kind}" for kind, n in self.outcomes.most_common())
        rate = f" = {self.updates / self.drained:.1f} updates/s" if self.drained else ""
        return (
            f"  {self.updates} updates from {self.chats} chats at once: {drained}{rate}; answered once {once}, "
            f"never {none}, more than once {more}; per update (burst to its reply) p50 "
            f"{percentile(self.latencies, 0.5):.1f} s, p95 {percentile(self.latencies, 0.95):.1f} s, "
            f"max {max(self.latencies, default=0.0):.1f} s\n    turns: {kinds}; {self.by_order} matched by order\n"
            f"    {self.cpu}" + "".join(f"\n    odd: {o}" for o in self.odd[:5])
        )


def telegram_burst(
    api: FakeBotApi,
    served: ServedTanya,
    pool: list[str],
    updates: int,
    chats: int,
    seed: int,
    run_number: int,
    timeout: float = DRAIN_TIMEOUT_SECONDS,
) -> TelegramRun:
    """Push `updates` messages from `chats` chats at once (round robin: everyone's first message, then the second...)
    and wait until the bot has handled every one and its outboxes are empty."""
    rng = random.Random(seed * 7919 + run_number)
    # New chats and update ids every run, also over a reused workspace: a chat's history (or open ticket) and the
    # inbox's record of ids it handled would change what the bot does.
    continue_ids_after(
        int(str(served.workspace.query("SELECT coalesce(max(update_id), 0) FROM telegram_updates")[0][0]))
    )
    first_chat = 1_000_000_000 + (time.time_ns() // 1_000_000) % 1_000_000_000
    users = [FakeUser(first_chat + n, f"Pelanggan{n}") for n in range(chats)]
    per_chat = [updates // chats + (1 if n < updates % chats else 0) for n in range(chats)]
    asked = {
        u.id: rng.sample(pool, k) if k <= len(pool) else rng.choices(pool, k=k)
        for u, k in zip(users, per_chat, strict=True)
    }
    sent: list[tuple[FakeUser, str, dict[str, Any]]] = []
    for turn in range(max(per_chat, default=0)):
        for user in users:
            if turn < len(asked[user.id]):
                text = asked[user.id][turn]
                sent.append((user, text, api.message_update(user, text)))
    ids = [u["update_id"] for _, _, u in sent]
    result = TelegramRun(len(sent), chats)
    with CpuMeter(served) as meter:
        pushed_at = time.monotonic()
        api.push_all([u for _, _, u in sent])
        deadline = pushed_at + timeout
        while time.monotonic() < deadline:
            if _drained(served.workspace, min(ids), max(ids), len(ids)):
                break
            time.sleep(0.25)
        else:
            print(f"  (not drained within {timeout:.0f} s)", file=sys.stderr)
        time.sleep(1.0)  # a doubled send would come right after; the outboxes are empty, so nothing else will
    result.cpu = meter.summary()
    _attribute(api, served.workspace, sent, pushed_at, result)
    if _drained(served.workspace, min(ids), max(ids), len(ids)):
        result.drained = result.last_reply
    return result


def _drained(workspace: Workspace, first: int, last: int, count: int) -> bool:
    done = workspace.query(
        "SELECT count(*) FROM telegram_updates WHERE update_id BETWEEN ? AND ? AND done_at IS NOT NULL", first, last
    )[0][0]
    if done != count:
        return False
    waiting = workspace.query(
        "SELECT (SELECT count(*) FROM telegram_chat_outbox) + (SELECT count(*) FROM telegram_group_outbox)"
    )[0][0]
    return waiting == 0


def _attribute(
    api: FakeBotApi,
    workspace: Workspace,
    sent: list[tuple[FakeUser, str, dict[str, Any]]],
    pushed_at: float,
    result: TelegramRun,
) -> None:
    """How often each update was answered, from what reached the fake API. An answer carries its interaction id in
    its feedback buttons (fb:1:<id>), which the update's turn key names, so it is matched exactly; a message
    forwarded to an officer's open ticket is matched by its ticket and text in the group; other replies (refusals,
    declines, handoffs: no buttons) by their order in the chat, since each chat's updates are answered in order."""
    keys = {f"telegram:{BOT_ID}:{u['update_id']}": u["update_id"] for _, _, u in sent}
    turns: dict[int, tuple[int | None, int | None]] = {}
    for key, interaction_id, ticket_id in workspace.query("SELECT key, interaction_id, ticket_id FROM turn_keys"):
        if key in keys:
            turns[keys[str(key)]] = (_int(interaction_id), _int(ticket_id))
    outcome_of = {
        int(str(i)): str(o)
        for i, o in workspace.query("SELECT id, outcome FROM interactions WHERE channel = 'telegram'")
    }
    by_button: dict[int, list[float]] = defaultdict(list)
    plain: dict[int, list[float]] = defaultdict(list)  # chat -> arrival times of replies without feedback buttons
    group: list[tuple[str, float]] = []
    for call in api.calls("sendMessage"):
        if call.at < pushed_at or call.status != 200:
            continue
        chat_id = int(call.params["chat_id"])
        if chat_id == OFFICERS_CHAT:
            group.append((check_html(str(call.params.get("text", "")))[1], call.at))  # the text as shown
            continue
        buttons = [b.get("callback_data", "") for row in _keyboard(call.params) for b in row]
        feedback = [d for d in buttons if str(d).startswith("fb:1:")]
        if feedback:
            by_button[int(str(feedback[0]).rsplit(":", 1)[1])].append(call.at)
        else:
            plain[chat_id].append(call.at)
    plain_turns: dict[int, list[int]] = defaultdict(list)  # chat -> its updates answered without buttons, in order
    forwarded_turns: dict[int, list[int]] = defaultdict(list)  # ticket -> the updates forwarded to it, in order
    times: dict[int, list[float]] = {}
    for user, _text, update in sent:
        update_id = update["update_id"]
        interaction_id, ticket_id = turns.get(update_id, (None, None))
        if interaction_id is None and ticket_id is not None:
            result.outcomes["forwarded to an officer"] += 1
            forwarded_turns[ticket_id].append(update_id)
        elif interaction_id is not None and outcome_of.get(interaction_id) == "answer":
            result.outcomes["answer"] += 1
            times[update_id] = by_button.get(interaction_id, [])
        else:
            result.outcomes[outcome_of.get(interaction_id, "not handled") if interaction_id else "not handled"] += 1
            plain_turns[user.id].append(update_id)
    # The group post of a forwarded message shows it masked (phone numbers, NIK), so it is matched by its ticket and
    # its order there, as the other replies without buttons are by their order in the chat.
    posts: dict[int, list[float]] = defaultdict(list)
    for ticket_id in forwarded_turns:
        posts[ticket_id] = [at for posted, at in group if posted.startswith(f"💬 Tiket #{ticket_id} ")]
    for turns_in_order, arrivals_of in ((plain_turns, plain), (forwarded_turns, posts)):
        for owner, update_ids in turns_in_order.items():
            arrivals = arrivals_of.get(owner, [])
            for n, update_id in enumerate(update_ids):
                times[update_id] = arrivals[n:] if n == len(update_ids) - 1 else arrivals[n : n + 1]
                result.by_order += 1
    last = [max(t) for t in times.values() if t]
    result.last_reply = max(last) - pushed_at if last else None
    for user, text, update in sent:
        update_id = update["update_id"]
        arrivals = times.get(update_id, [])
        result.answered[len(arrivals)] += 1
        if len(arrivals) != 1:
            interaction_id, ticket_id = turns.get(update_id, (None, None))
            result.odd.append(
                f"update {update_id} of chat {user.id} answered {len(arrivals)} times: interaction {interaction_id} "
                f"({outcome_of.get(interaction_id or 0, '-')}), ticket {ticket_id}, text {text[:50]!r}"
            )
        if arrivals:
            result.latencies.append(min(arrivals) - pushed_at)


def _keyboard(params: dict[str, Any]) -> list[list[dict[str, Any]]]:
    markup = params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return list(markup.get("inline_keyboard", [])) if isinstance(markup, dict) else []


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))


# --- the run ---------------------------------------------------------------------------------------------
def question_pool() -> list[str]:
    """The labelled demo questions a customer types (handoff rows left out: those end the bot's part at once)."""
    return [q.question for q in load_labelled_set(QUESTIONS) if q.expected != "handoff"]


def _median_line(label: str, runs: list[WebRun]) -> str:
    errors = sum(sum(r.errors.values()) for r in runs)
    return (
        f"{label}: median of {len(runs)} runs: p50 {statistics.median(r.p50 for r in runs):.2f} s, "
        f"p95 {statistics.median(r.p95 for r in runs):.2f} s, max {statistics.median(r.worst for r in runs):.2f} s, "
        f"{statistics.median(r.throughput for r in runs):.1f} answers/s; errors {errors} in all"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100, help="web chats at once (0: no web figures)")
    parser.add_argument("--questions", type=int, default=10, help="questions each web chat asks")
    parser.add_argument(
        "--think", type=float, nargs=2, default=(2.0, 5.0), metavar=("MIN", "MAX"), help="think time range, s"
    )
    parser.add_argument("--client", choices=("light", "gradio"), default="light", help="the web client (see above)")
    parser.add_argument("--telegram-updates", type=int, default=1000, help="Telegram updates in the burst (0: none)")
    parser.add_argument("--telegram-chats", type=int, default=200, help="chats the updates come from")
    parser.add_argument("--runs", type=int, default=1, help="repeat each scenario; medians are printed")
    parser.add_argument(
        "--drain-timeout", type=float, default=DRAIN_TIMEOUT_SECONDS, help="give up on a Telegram burst after, s"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the questions and the think times")
    parser.add_argument("--model", help="embedding model (default: the demo's tuned model)")
    parser.add_argument("--workspace", type=Path, help="keep the workspace (index, database) here and reuse it")
    parser.add_argument("--only", choices=("no-think", "think"), help="only this web scenario")
    parser.add_argument(
        "--chat-concurrency", type=int, help="experiment: serve with ui.concurrency.CHAT set to this (default: as is)"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="experiment: an environment variable of the served process (repeatable)",
    )
    parser.add_argument(
        "--pool",
        choices=("screened", "labelled"),
        default="screened",
        help="screened: the labelled questions this model handles without a handoff (default); labelled: all of them",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    model = args.model or f"tuned:{DEMO_KB}"
    if is_tuned(model):  # tuning is its own step (minutes, once per machine), never part of a figure
        from ingest.tuning import ensure_tuned_model

        ensure_tuned_model(settings.replaced(embedding_model=model, kb_dir=DEMO_KB))
    with tempfile.TemporaryDirectory(prefix="tanya-load-") as scratch:
        workspace = Workspace.prepare(args.workspace or Path(scratch), model, settings.model.cache_dir)
        return _run(args, workspace)


def _run(args: argparse.Namespace, workspace: Workspace) -> int:
    pool = question_pool()
    web, telegram = args.chats > 0, args.telegram_updates > 0
    served_web = web or args.pool == "screened"  # the questions are screened through the web chat
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    api = FakeBotApi(TOKEN, keep_until_confirmed=True) if telegram else None
    env = workspace.env(
        TANYA_WEB_PORT=str(port),
        # Every simulated customer comes from 127.0.0.1: the per-address limits would count them as one network,
        # and a chat with no think time is a flood by design. The per-customer limit is off for the same reason.
        TANYA_WEB_MESSAGES_PER_ADDRESS="0",
        TANYA_WEB_TICKETS_PER_ADDRESS="0",
        TANYA_FLOOD_MESSAGES="0",
        TANYA_LOG_LEVEL="WARNING",
    )
    if api is not None:
        api.start()
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TANYA_TELEGRAM_BASE_URL=api.base_url,
            TANYA_OFFICERS_CHAT_ID=str(OFFICERS_CHAT),
            TANYA_OFFICER_IDS=json.dumps([OFFICER.id]),
        )
    for assignment in args.server_env:
        name, _, value = assignment.partition("=")
        env[name] = value
    channels = [] if served_web and telegram else ["--web"] if served_web else ["--telegram"]
    limits = {"CHAT": args.chat_concurrency} if args.chat_concurrency else None
    served = ServedTanya(workspace, channels, env, concurrency=limits)
    try:
        seconds = served.start(_ready(url if served_web else None, api))
        print(f"Tanya served by `tanya serve {' '.join(channels)}` (model {workspace.model}) in {seconds:.0f} s")
        print(f"web chat concurrency limit (ui.concurrency.CHAT): {args.chat_concurrency or concurrency.CHAT}")
        if args.server_env:
            print(f"served with {' '.join(args.server_env)}")
        print(f"workspace {workspace.folder}; {len(pool)} labelled demo questions (handoff rows left out)")
        print("limits per client address and per customer are off (every simulated customer is on 127.0.0.1)")
        print(f"server idle before measuring: {_settle(served):.2f} cores")
        if args.pool == "screened":
            started = time.perf_counter()
            pool, outcomes = screened(url, workspace, pool)
            kinds = ", ".join(f"{n} {kind}" for kind, n in outcomes.most_common())
            print(
                f"questions: {len(pool)} of them, those this model answers, refuses or declines without a handoff "
                f"(each asked once through /chat first, {time.perf_counter() - started:.0f} s, the warm-up: {kinds})"
            )
        if web:
            _web(args, served, url, pool)
        if api is not None:
            _telegram(args, api, served, pool)
    finally:
        served.stop()
        if api is not None:
            api.stop()
    return 0


def _settle(served: ServedTanya, timeout: float = 180.0) -> float:
    """Wait until the server's start-up work (index compaction, the first loads) is over; returns its idle load."""
    deadline = time.monotonic() + timeout
    while True:
        before = served.cpu_seconds()
        time.sleep(2.0)
        load = (served.cpu_seconds() - before) / 2.0
        if load < IDLE_CORES or time.monotonic() > deadline:
            return load


def _ready(url: str | None, api: FakeBotApi | None) -> Callable[[], bool]:
    def ready() -> bool:
        if api is not None and not api.calls("getUpdates"):
            return False
        if url is None:
            return True
        try:
            return httpx.get(f"{url}config", timeout=5, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    return ready


def _web(args: argparse.Namespace, served: ServedTanya, url: str, pool: list[str]) -> None:
    client = (
        "httpx.AsyncClient, one asyncio task per chat (queue/join + queue/data SSE)"
        if args.client == "light"
        else "gradio_client.Client per chat, one thread per chat"
    )
    print(f"\n(a) web chat over HTTP, client: {client}")
    scenarios: list[tuple[str, tuple[float, float] | None]] = []
    if args.only in (None, "no-think"):
        scenarios.append(("no think time (worst case)", None))
    if args.only in (None, "think"):
        low, high = args.think
        scenarios.append((f"think time {low:g}-{high:g} s per message (seeded)", (low, high)))
    results: dict[str, list[WebRun]] = defaultdict(list)
    for run_number in range(args.runs):
        for label, think in scenarios:
            people = customers(pool, args.chats, args.questions, think, args.seed + run_number)
            title = f"{args.chats} chats x {args.questions} questions, {label}, run {run_number + 1}"
            run = web_scenario(served, url, people, title, args.client)
            results[label].append(run)
            print(run.line(), flush=True)
    for label, runs in results.items():
        print(_median_line(f"  {args.chats} chats x {args.questions} questions, {label}", runs))


def _telegram(args: argparse.Namespace, api: FakeBotApi, served: ServedTanya, pool: list[str]) -> None:
    print(
        "\n(b) Telegram through the fake Bot API (python-telegram-bot long polling, at most 100 updates a getUpdates; "
        "the bot's rate limiter allows 30 messages/s)"
    )
    runs = []
    for run_number in range(args.runs):
        run = telegram_burst(
            api, served, pool, args.telegram_updates, args.telegram_chats, args.seed, run_number, args.drain_timeout
        )
        runs.append(run)
        print(run.line(), flush=True)
    drained = [r.drained for r in runs if r.drained is not None]
    once = sum(r.answered[1] for r in runs)
    total = sum(r.updates for r in runs)
    print(
        f"  median drain time of {len(runs)} runs: "
        + (f"{statistics.median(drained):.1f} s" if len(drained) == len(runs) else "not every run drained")
        + f"; answered exactly once: {once} of {total}"
    )


if __name__ == "__main__":
    sys.exit(main())
