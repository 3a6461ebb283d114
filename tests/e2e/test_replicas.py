"""Two `tanya serve` replicas over one real `chroma run` server and one real PostgreSQL, as the deployment runs them:
what one replica changes, the other answers with; what one opens, the other's officers answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from gradio_client import Client
from support.cli import KB_FILES, tanya, write_kb
from support.cluster import cluster_env
from support.servers import chroma_server, new_database
from support.web_server import EDITOR_LOGIN, OFFICER_LOGIN, free_port
from support.workspace import REPO

pytestmark = pytest.mark.e2e

START_TIMEOUT = 240.0
POLL_SECONDS = 0.25
# The bar is 5 s on a quiet machine (`follow_seconds` 2 s); the test allows for a loaded CI machine.
FOLLOW_TIMEOUT = 30.0
T = TypeVar("T")


@dataclass(frozen=True)
class Replica:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def staff_url(self) -> str:
        return f"{self.url}staff/"

    def chat(self, text: str) -> str:
        """One question from a new customer of this replica's web chat."""
        reply = Client(self.url, verbose=False).predict(text, api_name="/chat")
        assert isinstance(reply, str)
        return reply


@dataclass(frozen=True)
class Cluster:
    folder: Path
    env: dict[str, str]  # what every replica and `tanya` command of the cluster shares
    a: Replica
    b: Replica


def start_replica(name: str, folder: Path, env: dict[str, str]) -> Replica:
    """`tanya serve --web` with a var folder of its own, answering when its page does."""
    port = free_port()
    var = folder / f"var-{name}"
    var.mkdir()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TANYA_") and k != "TELEGRAM_BOT_TOKEN"}
    environment.update(env, TANYA_VAR_DIR=str(var), TANYA_WEB_PORT=str(port))
    log = var / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.app.cli", "serve", "--web"],
            cwd=REPO,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    replica = Replica(name, f"http://127.0.0.1:{port}/", process, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(replica.url, timeout=2) as response:
                if response.status == 200:
                    return replica
        except OSError:
            pass
        time.sleep(POLL_SECONDS)
    stop_replica(replica)
    pytest.fail(f"replica {name} did not start:\n{log.read_text(errors='replace')[-4000:]}")


def stop_replica(*replicas: Replica) -> None:
    """SIGTERM to each (as systemd stops them), then wait for all: they stop side by side."""
    for replica in replicas:
        replica.process.terminate()
    for replica in replicas:
        try:
            replica.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("replicas")
    write_kb(folder, dict(KB_FILES))
    with chroma_server(folder / "chroma") as chroma_port:
        env = cluster_env(folder, chroma_port, new_database(postgres_url, "replicas"))
        a = start_replica("a", folder, env)
        try:
            b = start_replica("b", folder, env)
        except BaseException:
            stop_replica(a)
            raise
        try:
            yield Cluster(folder, env, a, b)
        finally:
            stop_replica(a, b)


def eventually(check: Callable[[], T | None], timeout: float = FOLLOW_TIMEOUT) -> tuple[T, float]:
    """The first non-empty result of `check`, polled, with the seconds it took; fails after `timeout`."""
    started = time.monotonic()
    while True:
        result = check()
        if result:
            return result, time.monotonic() - started
        if time.monotonic() - started > timeout:
            pytest.fail(f"nothing after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def test_an_editors_save_on_one_replica_is_answered_by_the_other(cluster: Cluster) -> None:
    question = "gmn cek pulsa"
    assert cluster.b.chat(question) == "Tekan *123# lalu pilih Info Pulsa."
    editor = Client(cluster.a.staff_url, auth=EDITOR_LOGIN, verbose=False)
    entry = editor.predict("cek-pulsa", api_name="/faq_entry")
    new_answer = "Tekan *123*0# lalu pilih Info Pulsa (disimpan di replika A)."
    saved = editor.predict({**entry, "answer": new_answer}, entry["version"], "", api_name="/save_faq_entry")
    assert saved["action"] == "updated" and "updated 1" in saved["reindexed"]

    answered, seconds = eventually(lambda: cluster.b.chat(question) == new_answer)
    assert answered
    print(f"replica B answered replica A's edit after {seconds:.1f} s")
    assert cluster.a.chat(question) == new_answer
    assert "The index was changed by another process" in cluster.b.log.read_text(errors="replace")


def test_ingest_from_the_command_line_reaches_every_replica(cluster: Cluster) -> None:
    new_entry = """
  - id: cek-masa-aktif
    question: Bagaimana cara cek masa aktif kartu?
    alternates: [gmn cek masa aktif, how do I check my card's active period]
    answer: Tekan *123*7# untuk melihat masa aktif kartu.
"""
    pulsa = cluster.folder / "kb" / "faq" / "pulsa.yaml"
    pulsa.write_text(pulsa.read_text(encoding="utf-8") + new_entry, encoding="utf-8")
    done = tanya(cluster.folder, "ingest", "--quiet", **cluster.env)
    assert done.returncode == 0, done.stderr
    assert "added 1" in done.stdout

    for replica in (cluster.a, cluster.b):
        answer, _ = eventually(lambda r=replica: r.chat("gmn cek masa aktif kartu").startswith("Tekan *123*7#"))
        assert answer


def test_a_ticket_opened_on_one_replica_is_answered_from_the_others_console(cluster: Cluster) -> None:
    person = Client(cluster.a.url, verbose=False)  # the customer's browser stays with replica A
    handoff = person.predict("tolong sambungkan saya ke petugas, kartu saya diblokir", api_name="/chat")
    assert "petugas" in handoff.lower()

    officer = Client(cluster.b.staff_url, auth=OFFICER_LOGIN, verbose=False)
    tickets = [t for t in officer.predict(api_name="/tickets") if t["channel"] == "web"]
    assert len(tickets) == 1
    reply = "Blokir sudah kami buka dari konsol replika B."
    officer.predict(tickets[0]["id"], reply, api_name="/reply")

    received, _ = eventually(lambda: person.predict(0, api_name="/officer_messages"))
    assert [m["text"] for m in received] == [reply]
    assert person.predict(received[-1]["id"], api_name="/officer_messages") == []  # delivered once
