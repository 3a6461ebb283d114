"""The shipped tuning corpus: customers' phrasings of common telecom questions, which a tuned model learns alone
(the default) or beside an operator's own."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import write_kb
from support.workspace import REPO, make_settings

from bot.core.glossary import Glossary
from bot.core.text_normalizer import TextNormalizer
from bot.retrieval.tuned_models import MANIFEST
from bot.settings import TuningData
from ingest.faq_files import FaqEntry
from ingest.knowledge_base import load_knowledge_base
from ingest.tuning import changed_entries, corpus_to_learn, ensure_tuned_model, phrasing_groups
from ingest.tuning_corpus import TuningCorpus, shipped_corpus, write_corpus


def entry(entry_id: str, question: str, *alternates: str) -> FaqEntry:
    return FaqEntry(id=entry_id, question=question, answer="Jawaban.", alternates=alternates)


def test_the_shipped_corpus_is_the_demo_knowledge_bases_phrasings_so_the_demos_model_is_the_corpus_model() -> None:
    corpus = shipped_corpus()
    assert len(corpus.entries) >= 100
    assert all(len(e.alternates) >= 2 and e.id.startswith("corpus:") for e in corpus.entries)
    demo = load_knowledge_base([REPO / "kb"], REPO / "kb")
    assert demo.glossary is not None and corpus.glossary.as_mapping() == demo.glossary.as_mapping()
    # The demo's figures and its labelled calibration were measured with the model these groups train, and every
    # knowledge base's corpus model is that model: after an edit of kb/'s phrasings or glossary,
    # `python -m ingest.tuning_corpus kb` writes the corpus again.
    learnt_alone = phrasing_groups(list(corpus.entries), TextNormalizer(corpus.glossary))
    assert learnt_alone == phrasing_groups(demo.entries, TextNormalizer(demo.glossary))


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


def test_each_tuning_data_learns_the_corpus_alone_beside_the_kb_or_not_at_all(tmp_path: Path) -> None:
    operator = [entry("lain", "Apa itu roaming?", "roaming itu apa")]
    everything = len(shipped_corpus().entries)
    for tune_on, learnt in (
        (TuningData.CORPUS, everything),
        (TuningData.KB_AND_CORPUS, everything),
        (TuningData.KB, 0),
    ):
        assert len(corpus_to_learn(make_settings(tmp_path, tune_on=tune_on), operator)) == learnt
    assert make_settings(tmp_path).tuning.on is TuningData.CORPUS  # the default: sparse FAQs are not learnt


def test_a_model_tuned_on_the_corpus_alone_ignores_the_kbs_phrasings_and_their_edits(tmp_path: Path) -> None:
    # An operator's FAQ without a single alternate: nothing of its own to tune on, the corpus is enough.
    faq = "faq:\n  - id: satu\n    question: Bagaimana cara cek pulsa?\n    answer: Tekan *123#.\n"
    write_kb(tmp_path, {"faq/one.yaml": faq})
    corpus_file = tmp_path / "corpus.yaml"
    groups = [
        entry("pulsa", "Cara cek pulsa?", "gmn cek pulsa", "how do I check my credit"),
        entry("kuota", "Cara cek kuota?", "cek kuota gmn", "how much data do I have left"),
        entry("apn", "Cara atur APN?", "setting apn gmn", "how do I set the APN"),
        entry("roaming", "Cara aktifkan roaming?", "roaming gmn", "how do I turn on roaming"),
    ]
    assert write_corpus(groups, corpus_file, glossary=Glossary.from_mapping({"pulsa": ["credit"]})) == 4
    assert shipped_corpus(corpus_file).glossary.as_mapping() == {"pulsa": ["credit"]}
    common = {"embedding_model": f"tuned:{tmp_path / 'kb'}", "model_cache_dir": tmp_path / "models", "tune_epochs": 1}
    settings = make_settings(tmp_path, tune_corpus_file=corpus_file, **common)
    manifest = json.loads((ensure_tuned_model(settings) / MANIFEST).read_text(encoding="utf-8"))
    assert (manifest["tune_on"], manifest["entries"], manifest["corpus_groups"]) == ("corpus", 0, 4)
    assert not settings.model_learnt_kb  # self-calibration's held-out phrasings are unseen by this model
    write_kb(tmp_path, {"faq/one.yaml": faq.replace("cek pulsa?", "cek pulsa?\n    alternates: [cek pulsa gmn]")})
    assert changed_entries(settings, load_knowledge_base([tmp_path / "kb"], tmp_path / "kb")) == 0  # no re-tune
    # Another operator's kb, with a glossary of its own, gets the same weights: the corpus folds its own slang.
    other = tmp_path / "other"
    write_kb(other, {"faq/one.yaml": faq, "glossary.yaml": "synonyms:\n  kuota: [inet, data]\n"})
    elsewhere = {**common, "embedding_model": f"tuned:{other / 'kb'}"}
    other_model = ensure_tuned_model(make_settings(other, tune_corpus_file=corpus_file, **elsewhere))
    fingerprints = [
        json.loads((m / MANIFEST).read_text())["fingerprint"] for m in (ensure_tuned_model(settings), other_model)
    ]
    assert fingerprints[0] == fingerprints[1]
    learning_kb = make_settings(tmp_path, tune_corpus_file=corpus_file, tune_on=TuningData.KB_AND_CORPUS, **common)
    assert ensure_tuned_model(learning_kb) != ensure_tuned_model(settings)  # another model, in its own folder
    assert learning_kb.model_learnt_kb
