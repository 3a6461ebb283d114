"""The `tanya ingest` and `tanya ask` commands, run as real processes against a small knowledge base.

Each command runs as `python -m bot.app.cli` with its index, model cache, database and kb/ folder given through
TANYA_* variables in a temporary folder. Whether the index changed is judged from its records as read by a
separate process, and, where no process opened the store, from its files byte for byte (Chroma may compact its
log when a store is opened).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import KB_FILES, TEXTS, UNITS, tanya, write_kb
from support.workspace import MODEL_CACHE, REPO, make_settings

from bot.retrieval.embedder import load_embedder, model_identity
from bot.retrieval.knowledge_index import KnowledgeIndex
from bot.retrieval.model_files import resolve_model
from bot.settings import BUNDLED_MODEL, FLAT_NAMES, environment_variable
from ingest.faq_files import MAX_FILE_BYTES

# These tests answer with, or index with, the demo's tuned model: built first when this machine lacks it.
pytestmark = pytest.mark.usefixtures("tuned_model")

REPLY_FIELDS = {"question", "outcome", "text", "source", "confidence", "lang"}
DUMP_RECORDS = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from support.workspace import make_settings
from bot.retrieval.embedder import load_embedder
from bot.retrieval.knowledge_index import KnowledgeIndex
settings = make_settings(Path(sys.argv[2]))
with KnowledgeIndex(settings, load_embedder(settings), writable=False) as index:
    records = {rid: [r.text, r.metadata] for rid, r in index.records().items()}
    print(json.dumps({"records": records, "vectors": index.vectors(sorted(records)), "info": index.info()}))
"""


def store_digest(folder: Path) -> dict[str, str]:
    """Every file of the store but the lock, by content."""
    store = folder / "index"
    return {
        p.relative_to(store).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.rglob("*"))
        if p.is_file() and p.name != ".tanya.lock"
    }


def dump_records(folder: Path) -> dict[str, object]:
    """Records, vectors and index facts, read by a separate process."""
    done = subprocess.run(
        [sys.executable, "-c", DUMP_RECORDS, str(REPO / "tests"), str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    dumped: dict[str, object] = json.loads(done.stdout)
    return dumped


def summary_line(folder: Path, entries: int, chunks: int, summary: str) -> str:
    return f"Indexed {entries} FAQ entries and {chunks} document chunks into {folder / 'index'}: {summary}\n"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small kb/ ingested once by `tanya ingest`; tests copy it before changing anything."""
    folder = tmp_path_factory.mktemp("cli")
    write_kb(folder, dict(KB_FILES))
    done = tanya(folder, "ingest", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout == summary_line(
        folder, 3, 2, f"added {UNITS}, updated 0, removed 0, unchanged 0 ({TEXTS} texts embedded)"
    )
    return folder


@pytest.fixture(scope="module")
def baseline(ingested: Path) -> dict[str, object]:
    """The ingested index's records, vectors and facts: every fresh copy holds exactly these."""
    return dump_records(ingested)


@pytest.fixture
def workspace(ingested: Path, tmp_path: Path) -> Path:
    """A private copy of the ingested kb/ and index."""
    shutil.copytree(ingested / "kb", tmp_path / "kb")
    shutil.copytree(ingested / "index", tmp_path / "index")
    return tmp_path


def test_ingest_again_changes_nothing(workspace: Path, baseline: dict[str, object]) -> None:
    done = tanya(workspace, "ingest", "kb")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == summary_line(
        workspace, 3, 2, f"added 0, updated 0, removed 0, unchanged {UNITS} (0 texts embedded)"
    )
    assert dump_records(workspace) == baseline


def test_ingest_of_one_file_touches_only_that_file(workspace: Path) -> None:
    pulsa = workspace / "kb" / "faq" / "pulsa.yaml"
    pulsa.write_text(pulsa.read_text().replace("Dial *123# and choose Credit Info.", "Dial *123#."), encoding="utf-8")
    (workspace / "kb" / "faq" / "roaming.csv").unlink()  # gone on disk, but not part of this run
    done = tanya(workspace, "ingest", "--quiet", "kb/faq/pulsa.yaml")
    assert done.returncode == 0, done.stderr
    assert done.stdout == summary_line(workspace, 2, 0, "added 0, updated 1, removed 0, unchanged 1 (0 texts embedded)")
    records = dump_records(workspace)["records"]
    assert isinstance(records, dict)
    assert {meta["source"] for _, meta in records.values()} == {"faq/pulsa.yaml", "faq/roaming.csv", "docs/tarif.md"}


def test_rebuild_recreates_the_same_index(workspace: Path, baseline: dict[str, object]) -> None:
    done = tanya(workspace, "ingest", "--rebuild", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout == summary_line(
        workspace, 3, 2, f"added {UNITS}, updated 0, removed 0, unchanged 0 ({TEXTS} texts embedded)"
    )
    after = dump_records(workspace)
    assert after["records"] == baseline["records"]
    info, before = dict(after["info"]), dict(baseline["info"])  # type: ignore[call-overload]
    assert info.pop("content_version") != before.pop("content_version")  # replicas load a rebuild again
    assert info == before


def test_bad_file_exits_1_with_the_problem_and_leaves_the_index_exactly_as_it_was(
    workspace: Path, baseline: dict[str, object]
) -> None:
    before_files = store_digest(workspace)
    write_kb(workspace, {"faq/rusak.yaml": "- id: a\n  question: q\n  answer: [tidak ditutup\n"})
    done = tanya(workspace, "ingest")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "tanya: 1 problem(s) in the knowledge base; the index was not changed:\n"
        "  - faq/rusak.yaml:4: malformed YAML: expected ',' or ']', but got '<stream end>'\n"
    )
    assert store_digest(workspace) == before_files
    assert dump_records(workspace) == baseline


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"faq/lagi.yaml": "- id: cek-pulsa\n  question: Cek pulsa?\n  answer: Tekan *123#.\n"},
            ["faq/pulsa.yaml:2: duplicate id 'cek-pulsa' (also at faq/lagi.yaml:1)"],
        ),
        ({"docs/rusak.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 4}, ["docs/rusak.pdf: unreadable PDF: "]),
        ({"docs/gambar.md": b"\x89PNG\r\n\x1a\n\x00\x00"}, ["docs/gambar.md: file is binary, not text"]),
        (
            {"faq/latin.csv": "id,question,answer\nkafe,Wifi di café?,Ada.\n".encode("latin-1")},
            ["faq/latin.csv:2: file is not UTF-8 text"],
        ),
        ({"faq/tanpa-id.yaml": "- question: Siapa?\n  answer: Saya.\n"}, ["faq/tanpa-id.yaml:1: entry is missing id"]),
        ({"docs/besar.txt": MAX_FILE_BYTES + 1}, [f"docs/besar.txt: file is too large ({MAX_FILE_BYTES + 1} bytes"]),
    ],
    ids=["duplicate-id", "unreadable-pdf", "binary", "not-utf8", "missing-id", "huge"],
)
def test_each_kind_of_bad_input_is_named_and_nothing_is_written(
    workspace: Path, files: dict[str, str | bytes | int], expected: list[str]
) -> None:
    before = store_digest(workspace)
    for name, content in files.items():
        if isinstance(content, int):
            with (workspace / "kb" / name).open("wb") as sparse:
                sparse.truncate(content)
        else:
            write_kb(workspace, {name: content})
    done = tanya(workspace, "ingest", "--quiet")
    assert done.returncode == 1
    assert f"tanya: {len(expected)} problem(s) in the knowledge base; the index was not changed:" in done.stderr
    problems = [line.removeprefix("  - ") for line in done.stderr.splitlines() if line.startswith("  - ")]
    assert len(problems) == len(expected), done.stderr
    assert all(problem.startswith(prefix) for problem, prefix in zip(problems, expected, strict=True)), done.stderr
    assert store_digest(workspace) == before


def test_ingest_of_a_missing_path_is_refused(workspace: Path) -> None:
    done = tanya(workspace, "ingest", "kb/faq/tidak-ada.yaml")
    assert done.returncode == 1
    assert "kb/faq/tidak-ada.yaml: no such file or folder" in done.stderr


def test_empty_files_ingest_as_nothing(tmp_path: Path) -> None:
    write_kb(tmp_path, {"faq/kosong.yaml": "", "faq/kosong.csv": "", "docs/kosong.md": ""})
    done = tanya(tmp_path, "ingest", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout == summary_line(tmp_path, 0, 0, "added 0, updated 0, removed 0, unchanged 0 (0 texts embedded)")


def test_ask_json_prints_one_reply_object(ingested: Path) -> None:
    done = tanya(ingested, "ask", "--json", "gmn", "cek", "pulsa")
    assert (done.returncode, done.stderr) == (0, "")
    reply = json.loads(done.stdout)
    assert set(reply) == REPLY_FIELDS
    assert reply["question"] == "gmn cek pulsa"
    assert (reply["outcome"], reply["source"], reply["lang"]) == ("answer", "cek-pulsa", "id")
    assert reply["text"] == "Tekan *123# lalu pilih Info Pulsa."
    assert isinstance(reply["confidence"], float) and 0.0 <= reply["confidence"] <= 1.0


def test_ask_reads_questions_from_stdin_and_writes_jsonl(ingested: Path) -> None:
    questions = ["how do I check my credit balance", "", "halo", "Siapa presiden pertama Amerika Serikat?"]
    done = tanya(ingested, "ask", stdin="\n".join(questions) + "\n")
    assert (done.returncode, done.stderr) == (0, "")
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["question"] for r in replies] == [q for q in questions if q]  # blank lines are skipped
    assert all(set(r) == REPLY_FIELDS for r in replies)
    english, greeting, off_topic = replies
    assert (english["outcome"], english["source"], english["lang"]) == ("answer", "cek-pulsa", "en")
    assert english["text"] == "Dial *123# and choose Credit Info."
    for unanswered in (greeting, off_topic):
        assert unanswered["outcome"] != "answer" and unanswered["source"] is None and unanswered["text"]


def test_ask_on_an_empty_index_says_to_ingest_first(tmp_path: Path) -> None:
    done = tanya(tmp_path, "ask", "--json", "cek pulsa")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"tanya: The index at {tmp_path / 'index'} is empty. Run `tanya ingest` first.\n"


def test_ingest_and_ask_are_refused_while_another_process_writes_the_store(workspace: Path) -> None:
    settings = make_settings(workspace)
    with KnowledgeIndex(settings, load_embedder(settings), writable=True):
        before = store_digest(workspace)
        write_kb(workspace, {"faq/baru.yaml": "- id: baru\n  question: Baru?\n  answer: Ya.\n"})
        for args in (("ingest", "--quiet"), ("ask", "--json", "cek pulsa")):
            done = tanya(workspace, *args)
            assert (done.returncode, done.stdout) == (1, "")
            assert done.stderr.startswith(f"tanya: The index at {workspace / 'index'} is in use by pid {os.getpid()}")
            assert "stop that process first" in done.stderr
            assert "web editor" in done.stderr
            assert "run a Chroma server and set TANYA_CHROMA_HOST" in done.stderr
        assert store_digest(workspace) == before


def test_index_built_with_another_model_is_refused_with_rebuild_advice(
    workspace: Path, baseline: dict[str, object]
) -> None:
    # The same model named by its path is another name: the check compares names, and nothing is loaded.
    other = {"TANYA_EMBEDDING_MODEL": resolve_model(BUNDLED_MODEL), "TANYA_QUERY_BACKEND": "torch"}
    for args in (("ingest", "--quiet"), ("ask", "--json", "cek pulsa")):
        done = tanya(workspace, *args, **other)
        assert (done.returncode, done.stdout) == (1, "")
        assert f"was built with the model '{model_identity(make_settings(workspace))}'" in done.stderr
        assert "Run `tanya ingest --rebuild`" in done.stderr
    assert dump_records(workspace) == baseline


EVAL_SET = """\
questions:
  - {question: gmn cek pulsa sy, expected: cek-pulsa, category: informal}
  - {question: how do I turn on roaming before my trip, expected: roaming-aktif, category: english}
  - {question: berapa tarif sms, expected: "doc:docs/tarif.md", category: informal}
  - {question: saya mau bicara dengan petugas, expected: handoff, category: handoff}
  - {question: nomor 081234567890 punya siapa, expected: refuse, category: privacy}
  - {question: resep rendang yang empuk, expected: decline, category: offtopic}
"""


def test_eval_scores_any_labelled_set_on_any_knowledge_base(ingested: Path, tmp_path: Path) -> None:
    (tmp_path / "set.yaml").write_text(EVAL_SET, encoding="utf-8")
    out = tmp_path / "report"
    done = tanya(
        ingested,
        "eval",
        "--set",
        str(tmp_path / "set.yaml"),
        "--kb",
        str(ingested / "kb"),
        "--out",
        str(out),
        "--no-ablation",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("set: hit@1 ")
    assert "bar: zero privacy leaks: 0 leak(s) ok" in done.stdout
    assert "bar: no in-domain question declined as off-topic" in done.stdout
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["set"]["metrics"]
    assert metrics["questions"] == 6
    assert (out / "report.md").is_file() and (out / "set-sweep.png").is_file()


def test_eval_with_its_own_model_tunes_one_on_the_sets_knowledge_base_first(ingested: Path, tmp_path: Path) -> None:
    (tmp_path / "set.yaml").write_text(EVAL_SET, encoding="utf-8")
    models, out = tmp_path / "models", tmp_path / "report"
    models.mkdir()
    for fitted in MODEL_CACHE.glob("intents-*.pickle"):  # the intent classifiers, fitted once per machine
        shutil.copy2(fitted, models)
    args = ("eval", "--set", str(tmp_path / "set.yaml"), "--kb", str(ingested / "kb"), "--out", str(out))
    done = tanya(
        ingested,
        *args,
        "--own-model",
        "--no-ablation",
        "--quiet",
        TANYA_MODEL_CACHE_DIR=str(models),
        TANYA_TUNE_EPOCHS="1",
        TANYA_TUNE_ON="kb",  # a small kb's own phrasings tune in seconds; the shipped corpus takes minutes
    )
    assert done.returncode == 0, done.stderr
    (folder,) = [p for p in models.iterdir() if p.name.startswith("tuned-kb-") and p.is_dir()]
    assert json.loads((folder / "tanya-tuning.json").read_text())["kb_dir"] == str((ingested / "kb").resolve())
    assert f"set: tuned:{folder.name}#" in (out / "report.md").read_text(encoding="utf-8")
    assert "tanya eval --set" in (out / "report.md").read_text(encoding="utf-8")


def test_eval_refuses_a_set_without_its_knowledge_base_and_names_unknown_ids(ingested: Path, tmp_path: Path) -> None:
    done = tanya(ingested, "eval", "--set", str(tmp_path / "set.yaml"))
    assert (done.returncode, done.stderr) == (
        1,
        "tanya: --set FILE and --kb DIR go together: a labelled set and the knowledge base it asks about\n",
    )
    (tmp_path / "set.csv").write_text(
        "question,expected,category\ncek pulsa,no-such-entry,informal\n", encoding="utf-8"
    )
    done = tanya(ingested, "eval", "--set", str(tmp_path / "set.csv"), "--kb", str(ingested / "kb"), "--quiet")
    assert done.returncode == 1
    assert "expected ids not in the knowledge base: no-such-entry" in done.stderr


def test_settings_lists_every_variable_with_its_value_and_never_a_secret(tmp_path: Path) -> None:
    done = tanya(
        tmp_path,
        "settings",
        TELEGRAM_BOT_TOKEN="123456:rahasia-bot",
        TANYA_DATABASE_URL="postgresql://tanya:sandi-db@127.0.0.1/tanya",
        TANYA_WEB_PORT="9001",
    )
    assert done.returncode == 0, done.stderr
    listed = {line.split("=", 1)[0] for line in done.stdout.splitlines() if "=" in line and not line.startswith("#")}
    assert {environment_variable(flat) for flat in FLAT_NAMES} <= listed
    assert "TANYA_WEB_PORT=9001  #" in done.stdout
    assert "TELEGRAM_BOT_TOKEN=(set, not shown)" in done.stdout
    assert "rahasia-bot" not in done.stdout and "sandi-db" not in done.stdout
