"""The shipped tuning corpus: customers' phrasings of common telecom questions, learnt beside an operator's own."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO, make_settings

from bot.tuning import corpus_to_learn
from bot.tuning_corpus import TuningCorpus, shipped_corpus, write_corpus
from ingest.faq_files import FaqEntry
from ingest.knowledge_base import load_knowledge_base


def entry(entry_id: str, question: str, *alternates: str) -> FaqEntry:
    return FaqEntry(id=entry_id, question=question, answer="Jawaban.", alternates=alternates)


def test_the_shipped_corpus_has_many_phrasings_an_intent_and_no_operator_name() -> None:
    corpus = shipped_corpus()
    assert len(corpus.entries) >= 100
    assert all(len(e.alternates) >= 2 and e.id.startswith("corpus:") for e in corpus.entries)
    texts = [t for e in corpus.entries for t in (e.question, *e.alternates)]
    assert corpus.names and not any(name.casefold() in t.casefold() for t in texts for name in corpus.names)


def test_the_demo_knowledge_base_learns_nothing_more_from_the_corpus_made_from_it() -> None:
    demo = load_knowledge_base([REPO / "kb"], REPO / "kb")
    assert shipped_corpus().beside(demo.entries) == []


def test_an_operators_entries_keep_every_corpus_group_they_share_no_phrasing_with() -> None:
    corpus = TuningCorpus(
        (
            entry("corpus:cek-pulsa", "Bagaimana cara cek pulsa?", "gmn cek pulsa", "how do I check my credit"),
            entry("corpus:apn", "Bagaimana cara mengatur APN?", "setting apn gmn"),
        ),
        names=("Nusantel",),
    )
    operator = [entry("cek-saldo", "Cara cek pulsa Cakra?", "GMN CEK  pulsa Nusantel")]
    # "GMN CEK pulsa Nusantel" is "gmn cek pulsa" once case, spacing and the corpus's removed name are set aside.
    assert [e.id for e in corpus.beside(operator)] == ["corpus:apn"]
    assert [e.id for e in corpus.beside([entry("lain", "Apa itu roaming?", "roaming itu apa")])] == [
        "corpus:cek-pulsa",
        "corpus:apn",
    ]


def test_writing_a_corpus_takes_the_names_out_and_keeps_groups_of_two_phrasings_or_more(tmp_path: Path) -> None:
    entries = [
        entry("app", "Cara login MyNusantel?", "login mynusantelnya gagal", "can't log in to the Nusantel app"),
        entry("alone", "Apa itu Nusantel?"),
        entry("same", "Cek pulsa Nusantel", "cek pulsa"),  # the same phrasing once the name is out
    ]
    path = tmp_path / "corpus.yaml"
    assert write_corpus(entries, path, ("Nusantel", "MyNusantel")) == 1
    corpus = shipped_corpus(path)
    (group,) = corpus.entries
    assert (group.id, group.question, group.alternates) == (
        "corpus:app",
        "Cara login?",
        ("login gagal", "can't log in to the app"),
    )
    assert corpus.names == ("MyNusantel", "Nusantel")


def test_a_tuning_learns_the_corpus_beside_the_kb_unless_the_setting_turns_it_off(tmp_path: Path) -> None:
    operator = [entry("lain", "Apa itu roaming?", "roaming itu apa")]
    with_corpus = make_settings(tmp_path, tune_with_corpus=True)
    learnt = corpus_to_learn(with_corpus, operator)
    assert len(learnt) == len(shipped_corpus().entries) and learnt[0].id.startswith("corpus:")
    assert corpus_to_learn(make_settings(tmp_path, tune_with_corpus=False), operator) == []
