"""The web app in a real headless Chromium: the customer sees answers with sources, an editor's change reaches the
chat, an officer's reply reaches the customer, and the login keeps a stranger out. Screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from support.web_server import EDITOR_LOGIN, OFFICER_LOGIN, RunningWebApp, copy_demo_workspace, running_web_app
from support.workspace import REPO

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ARTIFACTS = REPO / "test-artifacts" / "web"
TIMEOUT_MS = 30_000
LOGIN_BUTTON = re.compile("^(Login|Masuk)$")  # Gradio translates its login form to the browser's language


expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def web(demo_index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWebApp]:
    folder = copy_demo_workspace(demo_index_template, tmp_path_factory.mktemp("web-browser"))
    with running_web_app(folder) as app:
        yield app


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian packages chromium and chromium-driver (.ci/run does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def ask(page: Page, text: str) -> None:
    box = page.locator("#tanya-input textarea, #tanya-input input").first
    box.fill(text)
    page.locator("#tanya-send").click()


def bot_messages(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#tanya-chat .bot, #tanya-chat [data-testid='bot']").all_inner_texts()]


def log_in(page: Page, web: RunningWebApp, login: tuple[str, str]) -> None:
    page.goto(web.staff_url)
    fields = page.locator("input")
    expect(fields.nth(1)).to_be_visible()
    fields.nth(0).fill(login[0])
    fields.nth(1).fill(login[1])
    page.get_by_role("button", name=LOGIN_BUTTON).click()
    expect(page.get_by_text(f"Signed in as {login[0]}", exact=False)).to_be_visible()


def test_customer_asks_and_sees_the_answer_with_its_source(page: Page, web: RunningWebApp) -> None:
    page.goto(web.url)
    expect(page.get_by_text("Tanya — Asisten Layanan Pelanggan")).to_be_visible()
    ask(page, "gimana cara cek sisa pulsa?")
    source = page.locator("#tanya-chat .tanya-source").first
    expect(source).to_contain_text("Sumber: FAQ")
    expect(source).to_contain_text("cek-pulsa")
    expect(page.locator("#tanya-chat")).to_contain_text("*123*1#")  # the USSD code, not eaten by Markdown
    ask(page, "How do I check my remaining data?")
    expect(page.locator("#tanya-chat .tanya-source").nth(1)).to_contain_text("Source: FAQ")
    shot(page, "customer-answer-with-source")


def test_an_editors_change_shows_in_the_chat(page: Page, browser: Browser, web: RunningWebApp) -> None:
    new_answer = "Tekan *123*7# untuk info paket roaming terbaru (diubah di editor)."
    log_in(page, web, EDITOR_LOGIN)
    page.get_by_role("tab", name=re.compile("Editor konten")).click()
    search = page.locator("#editor-search textarea, #editor-search input").first
    search.fill("aktivasi-roaming")
    cell = page.locator("#editor-table").get_by_text("aktivasi-roaming", exact=True).filter(visible=True).first
    expect(cell).to_be_visible()
    cell.click()
    answer = page.locator("#editor-answer textarea").first
    expect(answer).not_to_have_value("")
    answer.fill(new_answer)
    page.locator("#editor-save").click()
    expect(page.locator("#editor-status")).to_contain_text("disimpan / saved")
    shot(page, "editor-saved")

    customer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    customer.set_default_timeout(TIMEOUT_MS)
    customer.goto(web.url)
    ask(customer, "bagaimana cara mengaktifkan roaming internasional?")
    expect(customer.locator("#tanya-chat")).to_contain_text("diubah di editor")
    shot(customer, "customer-sees-edited-answer")
    customer.context.close()


def test_an_officers_reply_reaches_the_customers_chat_even_after_a_reload(
    page: Page, browser: Browser, web: RunningWebApp
) -> None:
    page.goto(web.url)
    ask(page, "nomor saya tidak bisa dipakai telepon sejak kemarin, kenapa ya")
    expect(page.locator("#tanya-chat .tanya-source, #tanya-chat .tanya-note").first).to_be_visible()
    page.locator("#tanya-person").click()
    expect(page.locator("#tanya-status")).to_contain_text("terhubung dengan petugas")
    ticket = re.search(r"#(\d+)", page.locator("#tanya-status").inner_text())
    assert ticket is not None
    # A reload keeps the conversation and the open ticket (the browser keeps its customer id).
    page.reload()
    expect(page.locator("#tanya-status")).to_contain_text(f"#{ticket.group(1)}")
    expect(page.locator("#tanya-chat")).to_contain_text("tidak bisa dipakai telepon")

    officer = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    officer.set_default_timeout(TIMEOUT_MS)
    log_in(officer, web, OFFICER_LOGIN)
    expect(officer.get_by_role("tab", name=re.compile("Editor konten"))).to_have_count(0)  # officer role only
    row = officer.locator("#officer-queue").get_by_text(ticket.group(1), exact=True).filter(visible=True).first
    expect(row).to_be_visible()
    row.click()
    expect(officer.locator("#officer-conversation")).to_contain_text("tidak bisa dipakai telepon")
    officer.locator("#officer-reply textarea").fill("Halo, kami cek dulu ya. Coba mulai ulang ponsel Anda.")
    officer.locator("#officer-send").click()
    expect(officer.locator("#officer-conversation")).to_contain_text("kami cek dulu")
    shot(officer, "officer-console-reply")

    expect(page.locator("#tanya-chat")).to_contain_text("Coba mulai ulang ponsel Anda.")
    shot(page, "customer-receives-officer-reply")
    officer.locator("#officer-close").click()
    expect(page.locator("#tanya-chat")).to_contain_text("Tanya kembali membantu")
    expect(page.locator("#tanya-status")).to_be_hidden()
    officer.context.close()


def test_the_login_keeps_a_stranger_out(page: Page, web: RunningWebApp) -> None:
    page.goto(web.staff_url)
    fields = page.locator("input")
    expect(fields.nth(1)).to_be_visible()
    fields.nth(0).fill(EDITOR_LOGIN[0])
    fields.nth(1).fill("tebak-tebakan")
    page.get_by_role("button", name=LOGIN_BUTTON).click()
    expect(page.get_by_text(re.compile("Incorrect credentials|Kredensial salah", re.IGNORECASE))).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    expect(page.get_by_text("Officer console")).to_have_count(0)
    shot(page, "stranger-refused")
    assert page.request.get(f"{web.staff_url}config").status == 401
    assert page.request.get(f"{web.staff_url}gradio_api/info").status == 401


def test_an_editor_marks_a_wrongly_refused_question_and_the_customer_is_no_longer_refused(
    page: Page, browser: Browser, web: RunningWebApp
) -> None:
    text = "nomor siapa yang paling murah untuk nelpon malam"  # which provider is cheapest: the shipped set refuses it
    customer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    customer.set_default_timeout(TIMEOUT_MS)
    customer.goto(web.url)
    ask(customer, text)
    expect(customer.locator("#tanya-chat")).to_contain_text("UU")  # the privacy refusal cites the law

    log_in(page, web, EDITOR_LOGIN)
    page.get_by_role("tab", name=re.compile("Editor konten")).click()
    page.get_by_role("tab", name=re.compile("Tak terjawab")).click()
    card = page.locator(".tanya-card").filter(has_text=text).first
    expect(card).to_contain_text("ditolak sebagai data orang lain")
    card.locator(".mark-intent").click()  # "Pertanyaan biasa" is the choice the card starts with
    expect(page.locator("#unanswered-status")).to_contain_text("ditandai / marked: Ordinary question")
    expect(page.locator(".tanya-card").filter(has_text=text)).to_have_count(0)
    shot(page, "editor-marked-intent")

    replies = customer.locator("#tanya-chat .bot, #tanya-chat [data-testid='bot']")
    before = replies.count()
    ask(customer, text)
    expect(replies).to_have_count(before + 1)
    assert "UU" not in bot_messages(customer)[-1]
    shot(customer, "customer-no-longer-refused")
    customer.context.close()
