"""Assembling the web app: two Gradio apps on one server, project folders blocked, the server starts and stops."""

from __future__ import annotations

from pathlib import Path

import httpx

from bot.services.runtime import Runtime
from ui.app import WebServer, blocked_folders, build_web_app, upload_folder


def test_project_folders_are_blocked_but_not_the_upload_folder(demo_runtime: Runtime) -> None:
    blocked = [Path(b) for b in blocked_folders(demo_runtime)]
    settings = demo_runtime.settings
    for folder in (Path.cwd(), settings.kb_dir, settings.index.store_dir, settings.model.cache_dir):
        assert folder.resolve() in blocked
    assert not any(upload_folder().is_relative_to(b) for b in blocked)


def test_the_chat_is_at_the_root_and_the_staff_page_behind_a_login(demo_runtime: Runtime) -> None:
    app = build_web_app(demo_runtime)
    mounts = {getattr(route, "path", ""): route for route in app.routes}
    assert "/staff" in mounts and "" in mounts
    staff = mounts["/staff"].app.get_blocks()  # type: ignore[attr-defined]
    chat = mounts[""].app.get_blocks()  # type: ignore[attr-defined]
    assert staff.auth is not None and chat.auth is None
    assert {fn.api_name for fn in chat.fns.values() if fn.api_visibility == "public"} == {
        "chat",
        "talk_to_person",
        "officer_messages",
    }


def test_the_server_starts_on_the_given_port_and_stops(demo_runtime: Runtime) -> None:
    from support.web_server import free_port

    server = WebServer(demo_runtime, host="127.0.0.1", port=free_port())
    url = server.start()
    try:
        assert httpx.get(url, timeout=10).status_code == 200
        assert httpx.get(f"{url}staff/config", timeout=10).status_code == 401
    finally:
        server.stop()
    try:
        httpx.get(url, timeout=2)
        raise AssertionError("the server still answers after stop()")
    except httpx.HTTPError:
        pass
