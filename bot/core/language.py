"""Telling Indonesian from English in short, informal, often code-mixed customer messages."""

from __future__ import annotations

import re

# Common English words (function words and everyday telecom words). They decide the language and are
# protected from Indonesian slang replacement, which would turn "do" into "di" and "bill" into "bil".
ENGLISH_WORDS = frozenset(
    """
    a about after again all am an and any anyone are as ask at be because been before being but by can cannot
    could did do does doing done don't dont down during each even every few for from get gets getting give go
    going got had has have having he her here hers him his how i if in into is isn't it its it's just know
    like make many may me more most much must my myself need needs no nor not now of off on once one only or
    other our out over own please same she should so some still such than thank thanks that the their them
    then there these they this those through to too under until up us very want wants was way we well were
    what when where which while who whom whose why will with without would yes yet you your yours
    account activate activated activation add again apply balance bill billing bills block blocked buy call
    calls calling cancel card change charge charged check checking connect connection cost costs credit data
    day days deducted expire expired expires fee free help high hours internet late limit lost make message
    messages minute minutes mobile money month monthly network new number numbers old open package packages
    pay paid payment phone plan plans postpaid prepaid price quota rate rates receive register registered
    registration replace replacement roaming send service services set settings signal slow someone speak
    stolen stop store subscription switch talk top transfer unlock use used using work working wrong
    """.split()
)

INDONESIAN_WORDS = frozenset(
    """
    ada adalah agar aja aku akan apa apakah atau bagaimana bagi baru beli belum berapa bisa boleh buat
    cara cek dan dari dengan di dia dong enggak engga ga gak gimana gmn gw gue hari harus ini itu jadi jika
    juga kak kalau kalo kami kan kapan karena ke kenapa kok lagi lah mana mau mengapa min nomor nomer nya
    pada pakai paket pulsa kuota punya saja saya sih siapa sudah sy tapi tidak tolong udah untuk yang yg
    """.split()
)

_WORD = re.compile(r"[a-z']+")


def detect_language(text: str) -> str:
    """'en' or 'id'. Code-mixed messages count as Indonesian unless English clearly dominates."""
    words = _WORD.findall(text.lower())
    english = sum(1 for w in words if w in ENGLISH_WORDS and w not in INDONESIAN_WORDS)
    indonesian = sum(1 for w in words if w in INDONESIAN_WORDS)
    return "en" if english and english >= 1.5 * indonesian else "id"
