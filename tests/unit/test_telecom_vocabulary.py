"""The telecom vocabulary shipped with Tanya, and the names a knowledge base teaches without a glossary."""

from __future__ import annotations

import csv

from support.workspace import REPO

from bot.core.telecom_vocabulary import knowledge_base_names, off_topic_questions, shipped_vocabulary


def test_the_shipped_vocabulary_reads_and_keeps_each_variant_in_one_group() -> None:
    vocabulary = shipped_vocabulary()
    variants = [v for canonical, group in vocabulary.glossary.synonyms.items() for v in (canonical, *group)]
    assert len(variants) == len(set(variants))
    assert {"pulsa", "kuota", "sinyal", "apn", "roaming", "wifi"} <= vocabulary.domain_words
    assert not {"harga", "ganti", "balance", "detail"} & vocabulary.domain_words  # everyday meanings stay out


def test_no_shipped_off_topic_question_uses_a_domain_word() -> None:
    domain = shipped_vocabulary().domain_words
    assert len(off_topic_questions()) >= 80
    # Two are in the list on purpose: "SIM A" is also a driving licence, and a phone's specifications are no FAQ.
    ambiguous = {"hp", "sim"}
    offending = [q for q in off_topic_questions() if set(q.lower().split()) & domain - ambiguous]
    assert offending == []


def test_names_are_words_a_knowledge_base_capitalises_inside_its_sentences() -> None:
    units = [
        [f"Bagaimana cara cek pulsa di aplikasi MyKilat? Buka MyKilat lalu pilih {topic}."]
        for topic in ("Pulsa", "Kuota", "Paket", "Roaming", "Tagihan")
    ]
    units.append(["Roaming ke Australia aktif otomatis di MyKilat. Anda bisa cek tarif di Jakarta."])
    names = knowledge_base_names(units)
    assert "mykilat" in names  # the app, capitalised in every entry
    assert "australia" not in names and "anda" not in names and "jakarta" not in names
    assert "bagaimana" not in names  # first word of its sentence


def test_the_shipped_off_topic_questions_are_none_of_the_evaluation_questions() -> None:
    # Self-calibration trains on them; an evaluation question among them would flatter the report.
    asked = {
        row["question"].strip().lower()
        for path in (REPO / "evals").rglob("*.csv")
        for row in csv.DictReader(path.open(encoding="utf-8"))
        if "question" in row
    }
    assert {q.lower() for q in off_topic_questions()} & asked == set()
