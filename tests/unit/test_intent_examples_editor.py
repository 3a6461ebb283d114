"""Marking questions' intents writes the editors' kb/intents.csv safely: labels replaced or added, the rest kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.intents import Intent, IntentFileError, parse_intent_examples
from ingest.intent_examples import IntentExamplesEditor, TaughtExamples


def labels(path: Path) -> dict[str, Intent]:
    return {e.text: e.intent for e in parse_intent_examples(path.read_text(encoding="utf-8"), path.name)}


def test_marking_adds_new_texts_and_relabels_known_ones_keeping_the_other_lines(tmp_path: Path) -> None:
    path = tmp_path / "kb" / "intents.csv"
    path.parent.mkdir()
    path.write_text("text,intent,note\nnomor ini punya siapa,question,typo\nhalo kak,greeting,\n", encoding="utf-8")
    saved: list[int] = []
    editor = IntentExamplesEditor(path, on_saved=lambda: saved.append(1))
    taught = editor.teach(["Nomor  ini punya SIAPA", "cek NIK pemilik nomor ini", "  "], Intent.OTHER_PERSON_DATA)
    assert taught == TaughtExamples(added=1, relabelled=1, unchanged=0)
    assert labels(path) == {
        "nomor ini punya siapa": Intent.OTHER_PERSON_DATA,
        "halo kak": Intent.GREETING,
        "cek NIK pemilik nomor ini": Intent.OTHER_PERSON_DATA,
    }
    assert path.read_text(encoding="utf-8").splitlines()[:2] == [
        "text,intent,note",
        "nomor ini punya siapa,other_person_data,typo",
    ]
    assert editor.teach(["halo kak"], Intent.GREETING) == TaughtExamples(0, 0, 1)
    assert saved == [1, 1]


def test_the_first_mark_creates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kb" / "intents.csv"
    IntentExamplesEditor(path).teach(['ada paket "malam", murah?'], Intent.QUESTION)
    assert labels(path) == {'ada paket "malam", murah?': Intent.QUESTION}


def test_a_broken_file_is_not_rewritten_and_nothing_to_mark_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "intents.csv"
    broken = "text,intent\nhalo,no-such-intent\n"
    path.write_text(broken, encoding="utf-8")
    editor = IntentExamplesEditor(path)
    with pytest.raises(IntentFileError, match="line 2"):
        editor.teach(["cek pulsa"], Intent.QUESTION)
    assert path.read_text(encoding="utf-8") == broken
    with pytest.raises(IntentFileError, match="no text"):
        IntentExamplesEditor(tmp_path / "other.csv").teach(["   "], Intent.QUESTION)
    assert not (tmp_path / "other.csv").exists()
