"""Web API callers stay apart and inside the rules, through the real server over HTTP: callers without a session
never share a conversation, the queue-skipping /run routes are off, foreign origins get no CORS and cannot act,
hostile text gets a plain reply, and one client address cannot flood the chat or the officers' queue."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.web_server import RunningWebApp, copy_demo_workspace, running_web_app

from bot.core import phrases

pytestmark = pytest.mark.e2e

FOREIGN = "https://evil.example"
PUBLIC_HOST = "tanya.example.co.id"  # a deployment's own name, not a local one


@pytest.fixture(scope="module")
def web(demo_index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWebApp]:
    folder = copy_demo_workspace(demo_index_template, tmp_path_factory.mktemp("web-isolation"))
    with running_web_app(folder) as app:
        yield app


def client_from(web: RunningWebApp, address: str) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x.y.z reaches the server on 127.0.0.1)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=web.url.rstrip("/"), timeout=60, transport=transport)


def call(client: httpx.Client, api: str, *data: Any, session: str | None = None, prefix: str = "") -> Any:
    """A raw Gradio API call (`/call/<api>`, then its event stream), as a script would make it; the JSON body is
    written with ASCII escapes, so a lone surrogate reaches the server as the JSON `\\ud800` it is."""
    body: dict[str, Any] = {"data": list(data)}
    if session is not None:
        body["session_hash"] = session
    started = client.post(
        f"{prefix}/gradio_api/call/{api}", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    started.raise_for_status()
    event = started.json()["event_id"]
    stream = client.get(f"{prefix}/gradio_api/call/{api}/{event}").text
    kind, payload = None, None
    for line in stream.splitlines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind in ("complete", "error"):
            payload = line.removeprefix("data: ")
    assert kind == "complete", f"{api} ended with {kind}: {stream[-500:]}"
    return json.loads(payload or "null")[0]


def test_callers_without_a_session_never_share_a_conversation(web: RunningWebApp) -> None:
    with web.http() as first, web.http() as second:
        handed = call(first, "talk_to_person", "saya mau bicara dengan petugas")
        assert "petugas" in handed.lower()
        answered = call(second, "chat", "bagaimana cara cek sisa pulsa?")
        assert "*123*1#" in answered  # answered, not "forwarded to the officer" of the first caller's ticket
        assert answered != phrases.FORWARDED["id"]
    tickets = [t for t in web.runtime.handoffs.list_tickets(limit=10_000) if t.channel == "web"]
    (ticket,) = [t for t in tickets if any("bicara dengan petugas" in m.text for m in t.messages)]
    assert all("cek sisa pulsa" not in m.text for m in ticket.messages)
    web.runtime.conversations.officer_reply(ticket.id, "Halo, ada yang bisa dibantu?", officer="budi")
    with web.http() as third:
        assert call(third, "officer_messages", 0) == []  # the officer's reply goes to nobody else


def test_a_caller_with_a_session_keeps_its_conversation(web: RunningWebApp) -> None:
    with web.http() as caller:
        call(caller, "talk_to_person", "tolong sambungkan ke petugas", session="script-session-1")
        assert call(caller, "chat", "halo?", session="script-session-1") == phrases.FORWARDED["id"]


@pytest.mark.parametrize(("prefix", "api"), [("", "chat"), ("/staff", "tickets")])
def test_the_routes_that_skip_the_queue_are_off(web: RunningWebApp, prefix: str, api: str) -> None:
    with web.staff_http() as client:
        for route in ("run", "api"):
            response = client.post(f"{prefix}/gradio_api/{route}/{api}", json={"data": ["cek pulsa"]})
            assert response.status_code == 404, f"{prefix}/gradio_api/{route}/{api} -> {response.status_code}"


@pytest.mark.parametrize("path", ["/staff/gradio_api/call/tickets", "/gradio_api/call/chat"])
def test_a_foreign_origin_gets_no_credentialed_cors(web: RunningWebApp, path: str) -> None:
    with web.staff_http() as client:
        preflight = client.options(
            path,
            headers={
                "Origin": FOREIGN,
                "Host": PUBLIC_HOST,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert "access-control-allow-origin" not in preflight.headers
        assert preflight.headers.get("access-control-allow-credentials") != "true" or preflight.status_code >= 400
        posted = client.post(path, json={"data": []}, headers={"Origin": FOREIGN, "Host": PUBLIC_HOST})
        assert posted.status_code == 403
        assert "access-control-allow-origin" not in posted.headers


def test_the_sites_own_pages_still_call_it(web: RunningWebApp) -> None:
    own = web.url.rstrip("/")
    with web.staff_http() as client:
        response = client.post("/staff/gradio_api/call/tickets", json={"data": []}, headers={"Origin": own})
        assert response.status_code == 200 and "event_id" in response.json()


@pytest.mark.fault("a lone surrogate on the web API", "a plain reply; the next question answered; the handoff stored")
def test_a_lone_surrogate_gets_a_plain_reply_and_the_next_question_is_answered(web: RunningWebApp) -> None:
    with web.http() as caller:
        reply = call(caller, "chat", "cek pulsa \ud800", session="surrogate-1")
        assert "*123*1#" in reply and "TextEncodeInput" not in reply
        handed = call(caller, "talk_to_person", "tolong \ud800 sambungkan", session="surrogate-2")
        assert "petugas" in handed.lower()
        assert "*123*1#" in call(caller, "chat", "bagaimana cara cek sisa pulsa?", session="surrogate-3")


@pytest.mark.fault("a 5 MB message on the web API", "cut with a plain note; nothing over the limit stored")
def test_a_huge_message_is_cut_with_a_plain_note_and_the_next_question_is_answered(web: RunningWebApp) -> None:
    limit = web.settings.customers.message_max_chars
    with web.http() as caller:
        reply = call(caller, "chat", "cara cek pulsa " + "a" * 5_000_000, session="huge-1")
        assert phrases.MESSAGE_CUT["id"].format(limit=limit) in reply
        handed = call(caller, "talk_to_person", "petugas " + "b" * 5_000_000, session="huge-2")
        assert "petugas" in handed.lower()
        assert "*123*1#" in call(caller, "chat", "bagaimana cara cek sisa pulsa?", session="huge-3")
    stored = [m.text for t in web.runtime.handoffs.list_tickets(limit=10_000) for m in t.messages]
    assert stored and max(len(text) for text in stored) <= limit


def test_one_address_cannot_bury_the_officers_queue(web: RunningWebApp) -> None:
    before = len(web.runtime.handoffs.list_tickets(limit=10_000))
    allowed = web.settings.web.tickets_per_address
    with client_from(web, "127.0.0.4") as script:
        replies = [call(script, "talk_to_person", "petugas") for _ in range(allowed + 3)]
    assert replies[-1] == phrases.TOO_MANY_HANDOFFS["id"]
    assert len(web.runtime.handoffs.list_tickets(limit=10_000)) - before == allowed
    with client_from(web, "127.0.0.5") as someone_else:
        assert "petugas" in call(someone_else, "talk_to_person", "petugas").lower()


def test_one_address_cannot_flood_the_chat_and_others_are_still_answered(web: RunningWebApp) -> None:
    allowed = web.settings.web.messages_per_address
    started = time.monotonic()
    with client_from(web, "127.0.0.6") as script:
        replies = [call(script, "chat", "cara cek pulsa", session=f"flood-{n}") for n in range(allowed + 2)]
    print(f"{allowed + 2} chat calls from one address in {time.monotonic() - started:.1f} s")
    assert replies[:allowed] == [replies[0]] * allowed and "*123*1#" in replies[0]
    assert replies[-1] == phrases.TOO_MANY_MESSAGES["id"]
    with client_from(web, "127.0.0.7") as someone_else:
        assert "*123*1#" in call(someone_else, "chat", "cara cek pulsa")
