"""The web app's API through gradio_client against a real running server: chat, handoff round trip, editor saves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client
from support.web_server import EDITOR_LOGIN, OFFICER_LOGIN, RunningWebApp, copy_demo_workspace, running_web_app

from bot.core import phrases
from bot.core.messages import Outcome, Question

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def web(demo_index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWebApp]:
    folder = copy_demo_workspace(demo_index_template, tmp_path_factory.mktemp("web-api"))
    with running_web_app(folder) as app:
        yield app


def customer(web: RunningWebApp) -> Client:
    """A new customer: each client is its own session, so its own conversation."""
    return Client(web.url, verbose=False)


def staff(web: RunningWebApp, login: tuple[str, str] = EDITOR_LOGIN) -> Client:
    return Client(web.staff_url, auth=login, verbose=False)


def test_chat_returns_the_answer_text(web: RunningWebApp) -> None:
    reply = customer(web).predict("bagaimana cara cek sisa pulsa?", api_name="/chat")
    assert isinstance(reply, str)
    assert "*123*1#" in reply  # the demo answer, as plain text (no source markup in the API)


def test_handoff_round_trip_from_web_chat_to_console_and_back(web: RunningWebApp) -> None:
    person = customer(web)
    officer = staff(web, OFFICER_LOGIN)
    handoff = person.predict(
        "Kartu saya diblokir padahal sudah registrasi, tolong sambungkan ke petugas", api_name="/chat"
    )
    assert "petugas" in handoff.lower()

    tickets = [t for t in officer.predict(api_name="/tickets") if t["channel"] == "web"]
    assert tickets, "the web handoff should be in the officers' queue"
    ticket = tickets[0]  # newest first
    assert person.predict("halo, masih di sana?", api_name="/chat") == phrases.FORWARDED["id"]  # the bot stays silent
    conversation = officer.predict(ticket["id"], api_name="/ticket")["conversation"]
    assert conversation[-1] == {"role": "customer", "author": "", "text": "halo, masih di sana?", "delivered": True}

    officer.predict(ticket["id"], "Sudah kami buka blokirnya, silakan mulai ulang ponsel Anda.", api_name="/reply")
    received = _wait_for(lambda: person.predict(0, api_name="/officer_messages"))
    assert [m["text"] for m in received] == ["Sudah kami buka blokirnya, silakan mulai ulang ponsel Anda."]
    assert person.predict(0, api_name="/officer_messages") == received  # not confirmed yet: a lost reply comes again
    assert person.predict(received[-1]["id"], api_name="/officer_messages") == []  # confirmed: delivered once
    conversation = officer.predict(ticket["id"], api_name="/ticket")["conversation"]
    assert conversation[-1]["role"] == "officer" and conversation[-1]["delivered"]

    drafts = staff(web).predict(api_name="/drafts")
    assert any(d["ticket_id"] == ticket["id"] and d["answer"].startswith("Sudah kami buka") for d in drafts)

    officer.predict(ticket["id"], api_name="/close_ticket")
    notice = _wait_for(lambda: person.predict(received[-1]["id"], api_name="/officer_messages"))
    assert [m["text"] for m in notice] == [phrases.BOT_BACK["id"]]
    assert ticket["id"] not in [t["id"] for t in officer.predict(api_name="/tickets")]
    assert "*123*1#" in person.predict("cara cek pulsa", api_name="/chat")  # the bot answers again


def test_editor_save_reaches_the_chat_and_the_other_channels_at_once(web: RunningWebApp) -> None:
    editor = staff(web)
    entry = editor.predict("cek-kuota", api_name="/faq_entry")
    new_answer = "Cek sisa kuota: tekan *123*9# (jawaban uji editor)."
    saved = editor.predict({**entry, "answer": new_answer}, entry["version"], "", api_name="/save_faq_entry")
    assert saved["action"] == "updated" and saved["by"] == EDITOR_LOGIN[0] and "updated 1" in saved["reindexed"]

    assert customer(web).predict("bagaimana cara cek sisa kuota internet?", api_name="/chat") == new_answer
    telegram = web.runtime.engine.answer(Question("bagaimana cara cek sisa kuota internet?", "42", "telegram"))
    assert telegram.outcome is Outcome.ANSWER and telegram.text == new_answer  # same engine, no restart
    on_disk = (web.settings.kb_dir / entry["file"]).read_text(encoding="utf-8")
    assert new_answer in on_disk

    with pytest.raises(Exception, match="changed by someone else"):  # a second editor, still on the old version
        editor.predict({**entry, "answer": "Versi editor kedua."}, entry["version"], "", api_name="/save_faq_entry")
    assert editor.predict("cek-kuota", api_name="/faq_entry")["answer"] == new_answer


def test_editor_adds_and_deletes_an_entry(web: RunningWebApp) -> None:
    editor = staff(web)
    entry = {
        "id": "uji-esim-wisata",
        "question": "Apakah ada eSIM khusus wisatawan asing?",
        "alternates": ["esim turis", "tourist esim nusantel"],
        "answer": "Ada: eSIM Wisata Nusantel, 30 hari.",
        "answer_en": "Yes: the Nusantel Tourist eSIM, valid 30 days.",
        "tags": ["esim", "wisata"],
    }
    added = editor.predict(entry, "", "", api_name="/save_faq_entry")
    assert added["action"] == "added" and added["file"] == "faq/editor.yaml"
    assert customer(web).predict("apakah ada esim untuk turis?", api_name="/chat") == entry["answer"]
    with pytest.raises(Exception, match="missing answer"):
        editor.predict({**entry, "id": "uji-tanpa-jawaban", "answer": ""}, "", "", api_name="/save_faq_entry")
    editor.predict(entry["id"], added["version"], api_name="/delete_faq_entry")
    assert customer(web).predict("apakah ada esim untuk turis?", api_name="/chat") != entry["answer"]


def test_staff_actions_check_roles_and_logins(web: RunningWebApp) -> None:
    officer = staff(web, OFFICER_LOGIN)
    assert isinstance(officer.predict(api_name="/tickets"), list)
    with pytest.raises(Exception, match="Access denied"):
        officer.predict("cek-pulsa", api_name="/faq_entry")
    with pytest.raises(Exception, match="Access denied"):
        officer.predict(7, api_name="/analytics")
    answer = officer.predict("cara cek pulsa gimana", api_name="/quick_answer")
    assert len(answer["text"]) <= 160 and answer["source"] == "cek-pulsa"
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own error types for a refused login
        Client(web.staff_url, auth=(EDITOR_LOGIN[0], "wrong-password"), verbose=False)
    with pytest.raises(Exception):  # noqa: B017
        Client(web.staff_url, verbose=False)


def _wait_for(poll: object, timeout: float = 15.0) -> list[str]:
    """Poll until it returns something (deliveries are asynchronous in the real app), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = poll()  # type: ignore[operator]
        if found or time.monotonic() > deadline:
            return list(found)
        time.sleep(0.3)
