"""Security of the running web app: the file route serves nothing of the project, staff areas need a login,
every event has an explicit concurrency limit, and the pinned Gradio has the 2024-2026 security fixes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import gradio as gr
import pytest
from packaging.version import Version
from support.web_server import EDITOR_LOGIN, OFFICER_LOGIN, RunningWebApp, copy_demo_workspace, running_web_app

from ui.app import build_web_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def web(demo_index_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWebApp]:
    folder = copy_demo_workspace(demo_index_template, tmp_path_factory.mktemp("web-security"))
    with running_web_app(folder) as app:
        yield app


def attempts(web: RunningWebApp) -> list[str]:
    """Paths a file request must never be served from: traversal, absolute paths, case variants, encodings."""
    kb_file = (web.settings.kb_dir / "faq" / "pulsa-dan-kuota.yaml").resolve()
    database = Path(web.settings.database_url.removeprefix("sqlite:///")).resolve()
    project = Path.cwd().resolve() / "pyproject.toml"
    return [
        "/etc/passwd",
        "../../../../../../etc/passwd",
        "..%2f..%2f..%2f..%2fetc%2fpasswd",
        "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/ETC/PASSWD",
        "/etc/../etc/passwd",
        "//etc/passwd",
        "\\\\server\\share\\file",
        "file:///etc/passwd",
        str(kb_file),
        str(kb_file).upper(),
        str(kb_file).replace("/faq/", "/FAQ/"),
        str(database),
        str(project),
        f"{project.parent}/./pyproject.toml",
        f"{kb_file.parent}/../../index/chroma.sqlite3",
        str(Path(os.environ.get("GRADIO_TEMP_DIR", "/tmp/gradio")) / ".." / ".." / "etc" / "passwd"),
    ]


@pytest.mark.parametrize("prefix", ["", "/staff"])
def test_the_file_route_refuses_everything_outside_what_the_app_serves(web: RunningWebApp, prefix: str) -> None:
    with web.staff_http() if prefix else web.http() as client:
        for path in attempts(web):
            for shown in (path, quote(path, safe="/")):
                response = client.get(f"{prefix}/gradio_api/file={shown}", follow_redirects=False)
                assert response.status_code in (400, 403, 404), (
                    f"{prefix}/gradio_api/file={shown} -> {response.status_code}"
                )
                assert b"root:" not in response.content and b"faq:" not in response.content
                assert b"SQLite format" not in response.content and b"[project]" not in response.content


def test_staff_uploads_are_served_to_staff_only(web: RunningWebApp) -> None:
    with web.staff_http() as staff:
        uploaded = staff.post(
            "/staff/gradio_api/upload", files={"files": ("note.md", b"# Catatan\n\nIsi.\n", "text/markdown")}
        )
        uploaded.raise_for_status()
        path = uploaded.json()[0]
        assert (
            staff.get(f"/staff/gradio_api/file={path}").status_code == 200
        )  # the route works for what it means to serve
    with web.http() as stranger:
        assert stranger.get(f"/staff/gradio_api/file={path}").status_code == 401
        assert stranger.get(f"/gradio_api/file={path}").status_code == 403  # the public chat serves no uploads
        too_big = stranger.post("/gradio_api/upload", files={"files": ("x.md", b"x" * 10_000, "text/markdown")})
        assert too_big.status_code >= 400  # the public chat takes no files


def test_staff_pages_and_endpoints_need_a_login_and_the_chat_does_not(web: RunningWebApp) -> None:
    with web.http() as stranger:
        assert stranger.get("/config").status_code == 200
        for path in ("/staff/config", "/staff/gradio_api/info", "/staff/gradio_api/queue/status"):
            assert stranger.get(path).status_code == 401, path
        refused = stranger.post("/staff/login", data={"username": EDITOR_LOGIN[0], "password": "guess"})
        assert refused.status_code == 400
        assert "access-token" not in "".join(refused.headers.get_list("set-cookie"))
    with web.staff_http() as staff:
        assert staff.get("/staff/config").status_code == 200


def test_repeated_wrong_passwords_lock_the_account_for_a_while(web: RunningWebApp) -> None:
    with web.http() as stranger:
        for _ in range(5):
            stranger.post("/staff/login", data={"username": "budi", "password": "guess"})
        locked = stranger.post("/staff/login", data={"username": OFFICER_LOGIN[0], "password": OFFICER_LOGIN[1]})
        assert locked.status_code == 400  # even the right password, until the window passes


def test_every_event_sets_its_concurrency_limit(web: RunningWebApp) -> None:
    app = build_web_app(web.runtime)
    blocks = [route.app.get_blocks() for route in app.routes if hasattr(getattr(route, "app", None), "get_blocks")]
    assert len(blocks) == 2
    for page in blocks:
        for fn in page.fns.values():
            assert fn.concurrency_limit != "default", f"{fn.name} in {page.title} has no explicit concurrency limit"


def test_the_installed_gradio_has_the_security_fixes() -> None:
    assert Version(gr.__version__) >= Version("6.16")
