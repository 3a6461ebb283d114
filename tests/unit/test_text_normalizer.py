"""Informal Indonesian and English fold to the same terms: slang, elongation, glossary synonyms, stems."""

from __future__ import annotations

from bot.core.glossary import Glossary
from bot.core.text_normalizer import TextNormalizer

GLOSSARY = Glossary.from_mapping(
    {
        "pulsa": ["credit", "balance", "saldo pulsa"],
        "ponsel": ["hp", "handphone", "phone"],
        "hilang": ["ilang", "lost", "stolen", "kecurian"],
        "blokir": ["block", "diblokir", "blokirin"],
    }
)


def test_slang_and_elongation_are_folded() -> None:
    words = TextNormalizer().words("gmn cara cek pulsaaaa sy yg udh abis")
    assert words[:2] == ["bagaimana", "cara"]
    assert "pulsa" in words and "saya" in words and "sudah" in words and "habis" in words


def test_english_words_are_not_treated_as_slang() -> None:
    assert TextNormalizer().words("why is my bill so high") == ["why", "is", "my", "bill", "so", "high"]


def test_informal_indonesian_and_english_share_terms() -> None:
    normalizer = TextNormalizer(GLOSSARY)
    informal = set(normalizer.terms("hp sy ilang, gmn blokirin nomornya"))
    english = set(normalizer.terms("my phone was stolen, how do I block it"))
    assert {"ponsel", "hilang", "blokir"} <= informal
    assert {"ponsel", "hilang", "blokir"} <= english


def test_multi_word_variants_and_stemming() -> None:
    normalizer = TextNormalizer(GLOSSARY)
    assert normalizer.terms("cek saldo pulsa") == normalizer.terms("cek credit")
    assert "blokir" in normalizer.terms("pemblokiran")


def test_telecom_terms_only_reports_canonical_glossary_terms() -> None:
    normalizer = TextNormalizer(GLOSSARY)
    assert normalizer.telecom_terms("my balance is low") == {"pulsa"}
    assert normalizer.telecom_terms("resep nasi goreng") == set()


def test_the_enclitic_nya_does_not_hide_a_known_word() -> None:
    normalizer = TextNormalizer(Glossary.from_mapping({"matikan": ["matiin"], "kuota": ["quota"]}))
    assert normalizer.words("kuotanya gmn") == ["kuota", "bagaimana"]
    assert normalizer.terms("terus matiinnya?") == normalizer.terms("terus matiin?") == ["matikan"]
    assert normalizer.words("tanya punya") == ["tanya", "punya"]  # ordinary words ending in -nya stay whole


def test_english_contractions_and_double_letters_are_not_read_as_slang() -> None:
    words = TextNormalizer().words("I can't send my friend's SMS, I'm abroad next week, the app won't open")
    assert words == "i can not send my friend sms i abroad next week the app will not open".split()
    assert TextNormalizer().words("kuotanya gak masukkk tolonggg") == ["kuotanya", "enggak", "masuk", "tolong"]


def test_the_domain_is_recognised_by_words_phrases_and_the_operators_terms() -> None:
    normalizer = TextNormalizer(
        GLOSSARY, domain_words=frozenset({"pulsa", "sinyal", "top up"}), domain_terms=frozenset({"blokir"})
    )
    assert normalizer.mentions_domain("gmn cara ngecek pulsaaa")
    assert normalizer.mentions_domain("how do I top up")
    assert normalizer.mentions_domain("please block it")  # the operator's glossary folds "block" to "blokir"
    assert not normalizer.mentions_domain("my balance is low")  # "balance" folds to pulsa, which is no domain term
    assert not normalizer.mentions_domain("resep nasi goreng")
