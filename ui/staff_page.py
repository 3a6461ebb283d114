"""The staff page (behind the login): officer console, content editor and analytics, shown by role."""

from __future__ import annotations

from typing import Any

import gradio as gr

from bot.services.model_retune import entries_text
from bot.services.model_upgrade import Phase
from bot.services.runtime import Runtime
from bot.services.staff_accounts import ANALYST, EDITOR, OFFICER, ROLE_LABELS, StaffAccounts
from ui import concurrency
from ui.analytics import AnalyticsPage
from ui.content_editor import ContentEditor
from ui.officer_console import OfficerConsole
from ui.page_style import staff_header

NO_ROLE = (
    "Akun ini belum punya peran. Minta admin menambahkannya di TANYA_WEB_ROLES. / "
    "This account has no role yet; ask the administrator to add it in TANYA_WEB_ROLES."
)
LOGIN_NOT_SET_UP = (
    "Login staf belum disiapkan: atur TANYA_WEB_USERS dengan hash dari `tanya hash-password`. / "
    "Staff login is not set up yet: set TANYA_WEB_USERS with hashes from `tanya hash-password`."
)
LOGIN_MESSAGE = (
    "Area staf Tanya: konsol petugas, editor konten, analitik. / Tanya staff area: console, editor, analytics."
)


# Logging out is a POST (ui/staff_login.py refuses a GET, which any link or image could send); the reload then shows
# the login form.
LOG_OUT_JS = """
async () => {
  const page = window.location.pathname.replace(/\\/?$/, "/");
  await fetch(page + "logout", { method: "POST", credentials: "same-origin" });
  window.location.reload();
}
"""

MODEL_STATUS_SECONDS = 5.0
IDLE_STATUS_SECONDS = 60.0  # while nothing is built: a re-tune may start at any time
_BAR_CELLS = 20


def model_status(runtime: Runtime) -> str:
    """Which model answers, and how far the better one being built (or re-tuned) has got."""
    serving = f"Model: `{runtime.engine.model}`"
    status = runtime.upgrade.status() if runtime.upgrade is not None else None
    if status is None or status.phase == Phase.READY:
        tuned = " — disesuaikan dengan basis pengetahuan / fine-tuned on the knowledge base" if status else ""
        return serving + tuned + _changes_since_tuning(runtime)
    if status.phase == Phase.FAILED:
        what = (
            "Penyesuaian ulang gagal / re-tuning failed"
            if status.retune
            else "Pembuatan model yang lebih baik gagal / building the better model failed"
        )
        return f"⚠️ {serving}. {what}: {status.error}. Lihat log server / see the server log."
    step = {
        Phase.TUNING: "fine-tuning",
        Phase.EMBEDDING: "indexing the knowledge base",
        Phase.CALIBRATING: "calibrating",
    }[status.phase]
    if status.retune:
        line = (
            f"⏳ {serving}. Model sedang disesuaikan ulang, lalu dipakai otomatis / re-tuning ({status.reason}), "
            f"switched to by itself: {step}"
        )
    else:
        line = (
            f"⏳ {serving} (model dasar / base model). Model yang lebih baik sedang dibuat, lalu dipakai otomatis / "
            f"a better one is being built and switched to by itself: {step}"
        )
    progress = status.progress
    if progress is not None and progress.total:
        filled = round(progress.fraction * _BAR_CELLS)
        line += f" `{'█' * filled}{'░' * (_BAR_CELLS - filled)}` {progress.fraction:.0%}"
        if progress.seconds_left is not None:
            line += f", ~{max(1, round(progress.seconds_left / 60))} min"
    return line


def _changes_since_tuning(runtime: Runtime) -> str:
    retunes = runtime.retunes
    count = retunes.changes() if retunes is not None else None
    if not count or retunes is None:
        return ""
    after = retunes.target.tuning.retune_after_changes
    line = f"; {count} entri berubah sejak itu / {entries_text(count)} changed since it was tuned"
    return line + (f" (re-tune at {after})" if after else "")


def login_message(accounts: StaffAccounts) -> str:
    """What the login form says: how to set up accounts when there are none."""
    return LOGIN_MESSAGE if accounts.configured else LOGIN_NOT_SET_UP


def build_staff_page(runtime: Runtime, accounts: StaffAccounts) -> gr.Blocks:
    """The staff Blocks; the login in front of it comes from mounting it with `auth=accounts.verify`."""
    console = OfficerConsole(runtime, accounts)
    editor = ContentEditor(runtime, accounts)
    analytics = AnalyticsPage(runtime, accounts)
    with gr.Blocks(title="Tanya — Area Staf / Staff", analytics_enabled=False) as page:
        header = gr.HTML(staff_header("…", ""), elem_id="staff-header")
        log_out = gr.Button("Keluar / Log out", size="sm", variant="secondary", elem_id="staff-log-out")
        # Only the browser acts (no Python runs), so there is nothing to limit.
        log_out.click(None, js=LOG_OUT_JS, concurrency_limit=None)
        status = gr.Markdown(model_status(runtime), elem_id="model-status")
        if runtime.upgrade is not None or runtime.retunes is not None:
            timer = gr.Timer(MODEL_STATUS_SECONDS)

            def on_tick() -> tuple[str, Any]:
                upgrade = runtime.upgrade
                moving = upgrade is not None and upgrade.status().phase not in (Phase.READY, Phase.FAILED)
                if moving:
                    return model_status(runtime), gr.Timer(MODEL_STATUS_SECONDS, active=True)
                # Without a scheduler the timer stops with the upgrade; with one, it looks now and then for a re-tune.
                return model_status(runtime), gr.Timer(IDLE_STATUS_SECONDS, active=runtime.retunes is not None)

            timer.tick(on_tick, None, [status, timer], api_visibility="private", show_progress="hidden")
        no_role = gr.Markdown(NO_ROLE, visible=False)
        with gr.Tabs():
            with gr.Tab("🧑‍💼 Konsol petugas / Officer console", id="console", visible=False) as console_tab:
                console.build(page)
            with gr.Tab("📝 Editor konten / Content editor", id="editor", visible=False) as editor_tab:
                editor.build(page)
            with gr.Tab("📊 Analitik / Analytics", id="analytics", visible=False) as analytics_tab:
                analytics.build(analytics_tab)

        def on_load(request: gr.Request) -> tuple[Any, ...]:
            user = str(getattr(request, "username", "") or "")
            roles = accounts.roles_of(user)
            labels = ", ".join(ROLE_LABELS[r] for r in (OFFICER, EDITOR, ANALYST) if r in roles)
            return (
                staff_header(user, labels or "—"),
                gr.Markdown(visible=not roles),
                gr.Tab(visible=OFFICER in roles),
                gr.Tab(visible=EDITOR in roles),
                gr.Tab(visible=ANALYST in roles),
            )

        page.load(
            on_load,
            None,
            [header, no_role, console_tab, editor_tab, analytics_tab],
            concurrency_limit=concurrency.CONSOLE,
            api_visibility="private",
        )
    return page
