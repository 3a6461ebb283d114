"""The glossary folds slang, abbreviations and English variants (words or phrases) to one canonical term."""

from __future__ import annotations

from bot.core.glossary import Glossary

RAW = {
    "Pulsa": ["pulsah", "Credit", "saldo pulsa"],
    "kartu sim": ["simcard", "sim card", "kartu perdana"],
    "nomor": ["nomer", "no hp"],
    "e-sim": ["esim"],
}


def words(text: str) -> list[str]:
    return text.split()


def test_from_mapping_lowercases_terms_and_variants_and_round_trips() -> None:
    glossary = Glossary.from_mapping(RAW)
    assert glossary.as_mapping() == {
        "pulsa": ["pulsah", "credit", "saldo pulsa"],
        "kartu sim": ["simcard", "sim card", "kartu perdana"],
        "nomor": ["nomer", "no hp"],
        "e-sim": ["esim"],
    }
    assert Glossary.from_mapping(glossary.as_mapping()).as_mapping() == glossary.as_mapping()


def test_single_word_variants_become_the_canonical_term() -> None:
    glossary = Glossary.from_mapping(RAW)
    assert glossary.canonicalize(words("cek pulsah dan credit saya")) == words("cek pulsa dan pulsa saya")
    assert glossary.canonicalize(words("nomer saya")) == words("nomor saya")


def test_phrase_variants_match_longest_first_and_expand_to_canonical_words() -> None:
    glossary = Glossary.from_mapping(RAW)
    assert glossary.canonicalize(words("ganti sim card baru")) == words("ganti kartu sim baru")
    assert glossary.canonicalize(words("beli kartu perdana")) == words("beli kartu sim")
    # "saldo pulsa" is one variant: it folds to "pulsa" once, not to "saldo pulsa".
    assert glossary.canonicalize(words("cek saldo pulsa")) == words("cek pulsa")
    assert glossary.canonicalize(words("no hp hilang")) == words("nomor hilang")


def test_punctuation_in_terms_is_read_as_word_breaks() -> None:
    glossary = Glossary.from_mapping(RAW)
    assert glossary.canonicalize(words("aktifkan esim")) == words("aktifkan e sim")
    assert glossary.canonicalize(words("aktifkan e sim")) == words("aktifkan e sim")


def test_words_outside_the_glossary_are_kept_in_order() -> None:
    glossary = Glossary.from_mapping(RAW)
    text = words("paket internet malam kartu hilang")
    assert glossary.canonicalize(text) == text
    assert Glossary().canonicalize(text) == text


def test_canonical_terms_are_the_words_of_the_canonical_keys() -> None:
    glossary = Glossary.from_mapping(RAW)
    assert glossary.canonical_terms() == frozenset({"pulsa", "kartu", "sim", "nomor", "e"})
    assert Glossary().canonical_terms() == frozenset()


def test_an_operator_glossary_merged_over_the_shipped_one_keeps_its_own_groups() -> None:
    operator = Glossary.from_mapping({"pulsa": ["pulsah"], "ponsel": ["hp", "credit"]})
    shipped = Glossary.from_mapping({"pulsa": ["credit", "balance"], "hp": ["handphone"], "sinyal": ["signal"]})
    merged = operator.merged_over(shipped).as_mapping()
    # "credit" stays where the operator put it; shipped "hp" joins the operator's group that holds "hp".
    assert merged == {"pulsa": ["pulsah", "balance"], "ponsel": ["hp", "credit", "handphone"], "sinyal": ["signal"]}
    assert Glossary().merged_over(shipped).as_mapping() == shipped.as_mapping()
