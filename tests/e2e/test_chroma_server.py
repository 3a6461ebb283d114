"""Client/server mode: with TANYA_CHROMA_HOST/PORT set, `tanya ingest` and `tanya ask` use a real `chroma run` server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import KB_FILES, TEXTS, UNITS, tanya, write_kb
from support.servers import chroma_server
from support.workspace import make_settings

from bot.core.messages import Question
from bot.engine import AnswerEngine
from bot.retrieval.embedder import load_embedder, model_identity
from bot.retrieval.knowledge_index import IndexInconsistentError, KnowledgeIndex
from bot.settings import Settings
from ingest.knowledge_base import load_knowledge_base
from ingest.sync import sync_index

# These tests index with the demo's tuned model: built first when this machine lacks it.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("tuned_model")]


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A `chroma run` server on 127.0.0.1 for the module."""
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as port:
        yield port


@pytest.fixture
def server_env(chroma_port: int, request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment for `tanya` in server mode, with a collection of this test's own."""
    collection = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:60].strip("-")  # Chroma: [a-zA-Z0-9._-]
    return {"TANYA_CHROMA_HOST": "127.0.0.1", "TANYA_CHROMA_PORT": str(chroma_port), "TANYA_COLLECTION": collection}


def test_ingest_ask_and_resync_through_the_server(tmp_path: Path, chroma_port: int, server_env: dict[str, str]) -> None:
    write_kb(tmp_path, dict(KB_FILES))
    location = f"http://127.0.0.1:{chroma_port}"

    first = tanya(tmp_path, "ingest", "--quiet", **server_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == (
        f"Indexed 3 FAQ entries and 2 document chunks into {location}: "
        f"added {UNITS}, updated 0, removed 0, unchanged 0 ({TEXTS} texts embedded)\n"
    )
    assert not (tmp_path / "index").exists()  # nothing embedded on this machine

    asked = tanya(tmp_path, "ask", "--json", "gmn cek pulsa", **server_env)
    assert asked.returncode == 0, asked.stderr
    reply = json.loads(asked.stdout)
    assert (reply["outcome"], reply["source"], reply["text"]) == (
        "answer",
        "cek-pulsa",
        "Tekan *123# lalu pilih Info Pulsa.",
    )

    pulsa = tmp_path / "kb" / "faq" / "pulsa.yaml"
    pulsa.write_text(
        pulsa.read_text().replace("Dial *123# and choose Credit Info.", "Dial *123#, then Info."), encoding="utf-8"
    )
    (tmp_path / "kb" / "docs" / "tarif.md").unlink()
    changed = tanya(tmp_path, "ingest", "--quiet", **server_env)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.endswith(": added 0, updated 1, removed 2, unchanged 2 (0 texts embedded)\n")

    again = tanya(tmp_path, "ingest", "--quiet", **server_env)
    assert again.stdout.endswith(": added 0, updated 0, removed 0, unchanged 3 (0 texts embedded)\n"), again.stderr

    asked = tanya(tmp_path, "ask", stdin="how do I check my credit balance\nhalo\n", **server_env)
    assert asked.returncode == 0, asked.stderr
    english, greeting = (json.loads(line) for line in asked.stdout.splitlines())
    assert (english["source"], english["text"], english["lang"]) == ("cek-pulsa", "Dial *123#, then Info.", "en")
    assert greeting["source"] is None


def test_server_mode_has_no_single_owner_lock(tmp_path: Path, chroma_port: int, server_env: dict[str, str]) -> None:
    settings = server_settings(tmp_path, chroma_port, server_env)
    write_kb(tmp_path, dict(KB_FILES))
    with KnowledgeIndex(settings, load_embedder(settings), writable=True) as index:
        done = tanya(tmp_path, "ingest", "--quiet", **server_env)  # a second writer, as a web editor beside a CLI
        assert done.returncode == 0, done.stderr
        assert index.count() == TEXTS
        index.check_consistency()


def server_settings(folder: Path, port: int, env: dict[str, str]) -> Settings:
    return make_settings(folder, chroma_host="127.0.0.1", chroma_port=port, collection=env["TANYA_COLLECTION"])


def test_facts_written_by_another_client_are_seen_and_kept(
    tmp_path: Path, chroma_port: int, server_env: dict[str, str]
) -> None:
    settings = server_settings(tmp_path, chroma_port, server_env)
    write_kb(tmp_path, dict(KB_FILES))
    with KnowledgeIndex(settings, load_embedder(settings), writable=True) as index:
        assert index.glossary().as_mapping() == {}
        assert tanya(tmp_path, "ingest", "--quiet", **server_env).returncode == 0
        assert index.glossary().as_mapping() == {"pulsa": ["pulsah", "credit"]}  # not the copy read at opening
        one_file = load_knowledge_base([tmp_path / "kb" / "faq" / "pulsa.yaml"], tmp_path / "kb")
        assert str(sync_index(index, one_file, show_progress=False)).startswith("added 0, updated 0, removed 0")
    with KnowledgeIndex(settings, load_embedder(settings), writable=False) as fresh:
        assert fresh.glossary().as_mapping() == {"pulsa": ["pulsah", "credit"]}  # this client's sync kept it


def ingested(folder: Path, port: int, env: dict[str, str]) -> Settings:
    """The small knowledge base written in `folder` and ingested through the server by `tanya ingest`; the
    settings of a client that reads it."""
    write_kb(folder, dict(KB_FILES))
    done = tanya(folder, "ingest", "--quiet", **env)
    assert done.returncode == 0, done.stderr
    return server_settings(folder, port, env)


def test_open_index_follows_a_rebuild_by_another_client(
    tmp_path: Path, chroma_port: int, server_env: dict[str, str]
) -> None:
    settings = ingested(tmp_path, chroma_port, server_env)
    with KnowledgeIndex(settings, load_embedder(settings), writable=False) as index:
        before = index.records()
        rebuilt = tanya(tmp_path, "ingest", "--rebuild", "--quiet", **server_env)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert index.records() == before  # the recreated collection, found again by name
        assert index.search("gmn cek pulsa", 1)[0][0] == "faq:cek-pulsa:1"


def test_server_index_built_with_another_model_asks_for_a_rebuild(
    tmp_path: Path, chroma_port: int, server_env: dict[str, str]
) -> None:
    other = ingested(tmp_path, chroma_port, server_env).replaced(embedding_model="intfloat/multilingual-e5-small")
    index = KnowledgeIndex(other, load_embedder(make_settings(tmp_path)), writable=False)
    with index, pytest.raises(IndexInconsistentError) as caught:
        index.check_consistency()
    assert f"was built with the model '{model_identity(make_settings(tmp_path))}'" in str(caught.value)
    assert str(caught.value).endswith("Run `tanya ingest --rebuild`.")


def test_a_serving_engine_follows_ingests_and_rebuilds_by_another_client(
    tmp_path: Path, chroma_port: int, server_env: dict[str, str]
) -> None:
    settings = ingested(tmp_path, chroma_port, server_env)
    engine = AnswerEngine.open(settings)
    try:
        assert not engine.follow_index()  # nothing changed since it loaded
        pulsa = tmp_path / "kb" / "faq" / "pulsa.yaml"
        pulsa.write_text(pulsa.read_text().replace("lalu pilih Info Pulsa", "lalu pilih Sisa Pulsa"), encoding="utf-8")
        assert tanya(tmp_path, "ingest", "--quiet", **server_env).returncode == 0
        assert engine.answer(Question("gmn cek pulsa")).text == "Tekan *123# lalu pilih Info Pulsa."  # not yet
        assert engine.follow_index()
        assert engine.answer(Question("gmn cek pulsa")).text == "Tekan *123# lalu pilih Sisa Pulsa."
        # The ingest calibrated the changed knowledge base: the engine takes that calibration, making none itself.
        assert engine.calibration.content == engine.retriever.content_digest
        assert not engine.follow_index()

        rebuilt = tanya(tmp_path, "ingest", "--rebuild", "--quiet", **server_env)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert engine.follow_index()  # a new collection: loaded again
        assert engine.answer(Question("gmn cek pulsa")).text == "Tekan *123# lalu pilih Sisa Pulsa."
    finally:
        engine.close()
