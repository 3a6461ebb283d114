"""What a message is: the intents the engine tells apart before it answers from the knowledge base, the labelled
examples a classifier learns them from, and the rules over normalised words (both languages) that feed it and, where
a rule is certain, decide alone."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from enum import StrEnum

from bot.core.masking import contains_personal_number


class Intent(StrEnum):
    """What a customer's message asks for (the labels of the intent examples)."""

    QUESTION = "question"  # an ordinary question the knowledge base may answer
    OTHER_PERSON_DATA = "other_person_data"  # someone else's data: refused
    OWN_ACCOUNT = "own_account"  # the customer's own records: an officer looks
    ASK_PERSON = "ask_person"
    ANGER = "anger"
    GREETING = "greeting"
    OFF_TOPIC = "off_topic"
    FLIRTING = "flirting"  # flirting, pranks and trolling


@dataclass(frozen=True)
class IntentExample:
    """One labelled message."""

    text: str
    intent: Intent


class IntentFileError(ValueError):
    """An intent-examples file that cannot be read; the message names the line."""


def parse_intent_examples(content: str, source: str) -> list[IntentExample]:
    """The examples in a CSV text with the columns `text` and `intent` (others, such as `register`, are ignored)."""
    reader = csv.DictReader(io.StringIO(content))
    if reader.fieldnames is None:
        return []
    if not {"text", "intent"} <= set(reader.fieldnames):
        raise IntentFileError(f"{source}: the first line must name the columns text and intent")
    examples: list[IntentExample] = []
    for row in reader:
        text, label = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
        if not text and not label:
            continue
        if not text:
            raise IntentFileError(f"{source}, line {reader.line_num}: the text is empty")
        try:
            examples.append(IntentExample(text, Intent(label)))
        except ValueError:
            known = ", ".join(i.value for i in Intent)
            raise IntentFileError(
                f"{source}, line {reader.line_num}: unknown intent {label!r} (one of {known})"
            ) from None
    return examples


def _any(*patterns: str) -> re.Pattern[str]:
    # MULTILINE: the rule text holds the raw message and its normalised form on two lines.
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.MULTILINE)


# --- privacy: another person's data ----------------------------------------------------------------
_OWNER_QUESTION = _any(
    r"\b(punya|milik|atas nama|terdaftar atas nama|didaftarkan atas nama) siapa\b",
    r"\bsiapa (yang )?(pemilik|punya|pakai|memakai|menggunakan|yang daftar|pendaftar)\b",
    r"\b(pemilik|nama pemilik|data pemilik|identitas pemilik) (nomor|no|kartu|sim)\b",
    r"\bwho (owns|is the owner|registered|is registered|uses)\b",
    r"\bwhose (number|phone|sim)\b",
    r"\b(owner|owner's name|registered owner|registered name) of\b",
    r"\b(registered|belongs) to whom\b",
    r"\b(lacak|melacak|track|trace|sadap|menyadap|intip|mengintip|spy on|wiretap)\b",
)
_PERSONAL_FIELD = (
    r"(nik|ktp|kk|kartu keluarga|alamat|address|lokasi|location|posisi|riwayat|history|log|call log|"
    r"rekaman|sms|pesan|chat|percakapan|tagihan|bill|nama lengkap|full name|data pribadi|personal data|identitas|identity)"
)
_OTHER_PERSON = (
    r"(orang lain|dia|pacar|pacarku|suami|istri|istriku|suamiku|mantan|selingkuhan|tetangga|teman|temen|"
    r"bos|atasan|someone|somebody|another person|other person|my (wife|husband|girlfriend|boyfriend|ex|friend|neighbou?r|boss)|"
    r"his|her|their|this number|that number|nomor ini|nomor itu|nomor tersebut|no ini|pelanggan lain|other customers?|"
    r"pelanggan (dengan )?nomor|customer with number|pemilik nomor|the owner)"
)
_OTHER_PERSON_DATA = _any(
    rf"\b{_PERSONAL_FIELD}\b.*\b{_OTHER_PERSON}\b",
    rf"\b{_OTHER_PERSON}\b.*\b{_PERSONAL_FIELD}\b",
)
_INJECTION = _any(
    r"\b(ignore|disregard|forget) (all |your |the )?(previous |prior |above )?(instructions|rules|prompt)",
    r"\babaikan (semua )?(instruksi|perintah|aturan)",
    r"\b(kamu|anda) (sekarang|adalah) (admin|administrator|developer|root|sistem)\b",
    r"\byou are (now )?(an? )?(admin|administrator|developer|root|dan)\b",
    r"\b(developer|admin|god|debug) mode\b",
    r"\bpretend (you are|you're|to be)\b",
    r"\b(anggap|anggaplah|bayangkan|berpura-pura|pura-pura)\b.*\b(kamu|anda|lu|lo)\b",
    r"\b(act as|roleplay as|you have (database|db) access)\b",
    r"\b(tampilkan|show|dump|list|export|berikan|kasih) (semua |all )?(data|database|record)s? (pelanggan|customer|user)",
)
_DATA_WORD = re.compile(rf"\b({_PERSONAL_FIELD}|data|pemilik|owner|nama|name|siapa|who|pelanggan|customer)\b")


_OWN_NUMBER = re.compile(
    r"\b(nomor|nomer|no|number|hp|nomorku|nomerku)\s*(saya|sy|aku|ku|gue|gw|gua|sendiri|is)?\s*(saya|sy|aku|ku|gue|gw|sendiri)\b|\bmy (own )?(phone )?number\b"
)
_DATA_ABOUT_A_NUMBER = re.compile(
    r"\b(siapa|who|whose|nama|name|alamat|address|lokasi|location|posisi|where is|dimana|di mana|pemilik|owner|"
    r"nik|ktp|identitas|identity|terdaftar (atas|pada|di)|registered (to|under)|riwayat|history|log|isi sms|"
    r"isi pesan|sms (yang|yg) masuk|messages?|percakapan|dihubungi|ditelepon|called|calls|call log|texted|panggilan)\b"
)
_OTHER_PERSONS_NUMBER = _any(
    r"\b(her|his|their) (new |old |current )?(phone )?number\b",
    r"\bnomor (baru|lama)?\s*(dia|pacar|mantan|suami|istri|teman|temen|orang itu)\b",
    r"\b(which|what) numbers? did\b",
    r"\bsiapa (saja|aja) yang (dia )?(telepon|telpon|hubungi|sms)\b",
)


def is_privacy_request(text: str) -> bool:
    """Asking for another person's data: who owns a number, someone's NIK, address, calls or location."""
    if _OWNER_QUESTION.search(text) or _OTHER_PERSON_DATA.search(text) or _OTHER_PERSONS_NUMBER.search(text):
        return True
    if _INJECTION.search(text) and _DATA_WORD.search(text):
        return True
    # A number that is not the customer's own, with a question about who it is, where, or what it did.
    return contains_personal_number(text) and not _OWN_NUMBER.search(text) and bool(_DATA_ABOUT_A_NUMBER.search(text))


# --- asking for a person ---------------------------------------------------------------------------
_PERSON = (
    r"(cs|customer service|customer care|operator|agen|agent|human|manusia|orang|petugas|admin|officer|"
    r"person|representative|staf|staff|karyawan|pegawai|live agent|real person|orang beneran|orang asli|manager|"
    r"supervisor|manajer|atasan)"
)
_ASKS_FOR_PERSON = _any(
    rf"\b(bicara|berbicara|ngomong|ngobrol|omong|chat|talk|speak|connect|hubungkan|sambungkan|disambungkan|"
    rf"dihubungkan|sambungin|hubungin|minta|mau|ingin|pengen|pingin|butuh|need|want|transfer|oper)\b.*\b{_PERSON}\b",
    rf"^\s*(/human|{_PERSON})\s*[.!?]*\s*$",
    r"\b(bukan|not a|no) (bot|robot|mesin|machine)\b",
    r"\b(eskalasi|eskalasikan|dieskalasi|escalate|escalation)\b",  # escalating is asking for a person
    r"\bsama orang\b",
)


def asks_for_person(text: str) -> bool:
    """The customer wants a human officer."""
    return bool(_ASKS_FOR_PERSON.search(text))


# --- anger and complaints --------------------------------------------------------------------------
_ANGRY_WORDS = re.compile(
    r"\b(anjing|anjir|bangsat|bajingan|goblok|goblog|tolol|bodoh|brengsek|kampret|sialan|tai|taik|babi|kurang ajar|"
    r"bego|parah|kecewa|kesal|kesel|marah|muak|jengkel|payah|penipu|penipuan|nipu|tipu|menipu|maling|rampok|"
    r"lapor(kan)? (ke )?(ylki|bpsk|polisi|kominfo|brti|ojk)|viralkan|viral|"
    r"stupid|idiot|useless|ridiculous|terrible|horrible|awful|worst|scam|scammed|rip ?off|furious|angry|"
    r"disappointed|unacceptable|pathetic|wtf|damn|hell|sucks|fed up|disgusting|crap|bullshit|"
    r"asu|jancok|jancuk|cok|ngapusi|diapusi|kampungan|emosi|keterlaluan|nyebelin|sebel|sebal|ditipu|tertipu|"
    r"bangke|sompret|anjrit|njir|brengsek|dongo|geblek)\b"
)
_COMPLAINT = re.compile(
    r"\b(komplain|complain|complaint|keluhan|mengeluh|ganti rugi|refund|balikin (uang|duit|pulsa)|uang (saya |gue |aku )?kembali|"
    r"money back|compensation|kompensasi)\b"
)


def is_angry(raw: str, text: str) -> bool:
    """Angry or complaining: insults, strong words, shouting in capitals, or runs of exclamation marks."""
    letters = [c for c in raw if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7
    return bool(_ANGRY_WORDS.search(text) or _COMPLAINT.search(text) or shouting or "!!!" in raw)


# --- the customer's own account data ---------------------------------------------------------------
_MINE = r"(saya|aku|gue|gua|sy|ku|my|mine|i|me|kami)"
_ACCOUNT_THING = (
    r"(tagihan|bill|pulsa|kuota|saldo|transaksi|transaction|transfer|pembayaran|payment|poin|points|pesanan|order|"
    r"package|packages|plan|bundle|"
    r"potongan|deduction|charge|charges|langganan|subscription|paket|pengajuan|permintaan|request|limit|keluhan|"
    r"laporan|tiket)"
)
_SPECIFIC = _any(
    r"\b(kepotong|terpotong|dipotong|potong|kesedot|tersedot|disedot|hilang sendiri|berkurang sendiri|ilang sendiri|"
    r"deducted|charged|taken|missing|disappeared)\b",
    r"\b(kemarin|kemaren|tadi|semalam|minggu lalu|bulan lalu|tanggal \d+|yesterday|last (week|month|night)|this morning)\b",
    r"\b(bulan (januari|februari|maret|april|mei|juni|juli|agustus|september|oktober|november|desember))\b",
    r"\b(january|february|march|april|may|june|july|august|september|october|november|december)\b",
    r"\b(rp\.? ?\d|\d+ ?(rb|ribu|k|rupiah|idr|jt|juta|million))\b",
    r"\b(berkurang|kepotong|terpotong|hilang|ilang|kesedot|tersedot)\b \d{3,}",
    r"\b(udah|sudah|udh) (di-?)?(approve|setujui|disetujui|proses|diproses)\b",
    r"\b(cek|cekin|check) (status|statusnya)\b",
    r"\b(cek|cekin|dicek|check) (dong|donk|dund|deh|please|pls)\b",
    r"\b(can|could) you (please )?(reverse|refund|cancel|undo|check|look into|fix)\b",
    r"\b(tolong|mohon|bisa) (di)?(batalkan|batalin|kembalikan|balikin|proses|prosesin|cekin|dicek|cek kenapa)\b",
    r"\b(status (pesanan|order|transaksi|pembayaran|tiket|keluhan)|nomor (tiket|order|transaksi)|transaction id|order id)\b",
    r"\b(berapa|how much|what is|what's|whats) .*\b(tagihan|bill|sisa pulsa saya|sisa kuota saya|poin)\b.*\b(saya|my|aku|gue)\b",
)


def needs_account_data(text: str) -> bool:
    """The question is about this customer's own transactions, charges or bill amounts: only a person can look."""
    mine = re.search(rf"\b{_MINE}\b", text) or re.search(r"\w+(ku|nya)\b", text)
    thing = re.search(rf"\b{_ACCOUNT_THING}(ku|mu|nya)?\b", text)
    return bool(mine and thing and _SPECIFIC.search(text))


# --- greetings and thanks --------------------------------------------------------------------------
_GREETING = re.compile(
    r"^\s*(hai|halo|hallo|hello|hi|hey|hei|pagi|siang|sore|malam|selamat (pagi|siang|sore|malam)|good (morning|afternoon|evening)|"
    r"assalamualaikum|permisi|p|ping|test|tes|terima kasih|makasih|thanks|thank you|thx|ok|oke|okay|sip|mantap|"
    r"matur nuwun|matur suwun|suwun|nuwun|hatur nuhun|nuhun|punten|sampurasun|sugeng (enjing|siang|sonten|dalu))"
    r"( (kak|min|admin|bot|tanya|banyak|ya|yah|sis|gan|bro|much|mas|mbak|teh|kang|pisan|nya|sanget))*\s*[.!?]*\s*$"
)


def is_greeting(text: str) -> bool:
    """A greeting or thanks with no question in it."""
    return bool(_GREETING.search(text))


_HUMAN_COMMAND = re.compile(r"^\s*/(human|petugas|cs)\b")


def certain_intent(raw: str, rule_text: str) -> Intent | None:
    """The intent a rule is sure of on its own (the classifier is not asked): the /human command, a message of
    greeting words only, and instructions to drop the rules combined with a request for data."""
    if _HUMAN_COMMAND.match(raw.lower()):
        return Intent.ASK_PERSON
    if is_greeting(rule_text.splitlines()[-1]):
        return Intent.GREETING
    if _INJECTION.search(rule_text) and _DATA_WORD.search(rule_text):
        return Intent.OTHER_PERSON_DATA
    return None


# --- cues: word lists no rule decides on, features whose weight the classifier learns ----------------------
# Someone other than the customer: relatives and partners (Indonesian, Javanese, Sundanese, English), people at work,
# strangers. A linear model over n-grams cannot learn "a third party AND their records" from the words apart.
_THIRD_PARTY = re.compile(
    r"\b(orang lain|dia|pacar\w*|suami\w*|istri\w*|mantan\w*|selingkuhan|tetangga|teman\w*|temen\w*|bos|atasan|"
    r"anak\w*|adik\w*|adek\w*|kakak\w*|abang\w*|ayah\w*|bapak\w*|bapa|papa\w*|mama\w*|mamah|ibu\w*|emak\w*|nyokap|"
    r"bokap|ortu|orang ?tua|mertua|ipar|sepupu|keponakan|nenek|kakek|tante|paman|bibi|karyawan\w*|pegawai\w*|"
    r"manajer\w*|anak buah|bawahan|bojo\w*|garwa\w*|sinten|saha|sopo|budak|pamajikan|salaki|putra\w*|putri\w*|"
    r"husband|wife|girlfriend|boyfriend|ex|son|daughter|kids?|child(ren)?|teen(ager)?|mom|mum|mother|dad|father|"
    r"parents?|brother|sister|employees?|staff member|friend|neighbou?r|boss|colleague|someone|somebody|stranger|"
    r"person|caller|cewek|cowok|owner|pemilik\w*|he|she|him|her|his|their|them)\b"
)
# What is someone's to keep: their records, usage, money, whereabouts and contacts.
_RECORDS = re.compile(
    r"\b(nik|ktp|kk|alamat\w*|address|lokasi\w*|location|posisi\w*|dimana|di ?mana|where|riwayat\w*|history|logs?|"
    r"rekaman\w*|sms\w*|pesan\w*|chat\w*|wa|whatsapp|percakapan|tagihan\w*|bill|billing|pemakaian\w*|usage|used|"
    r"kuota\w*|data|pulsa\w*|saldo\w*|balance|nomor baru|nomer baru|new number|nama\w*|name|identitas|identity|"
    r"ditelepon|ditelpon|telepon\w*|telpon\w*|nelpon|called|calls?|texted|panggilan|dihubungi|kontak|contacts?|"
    r"buka apa|browsing|situs|sites?|siapa|who|whose|piro|pinten)\b"
)
_MINE_ONLY = re.compile(rf"\b{_MINE}\b|\w+ku\b")
# Asking to be called back is asking for a person, however it is put.
_CALLBACK = re.compile(
    r"\b(call ?back|callback|call me|ring me|(tolong|mohon|bisa|minta|please|pls|can you|could you) (di)?"
    r"(te?le?p?on|telp|hubungi|kontak|call)(in|kan)? (saya|sy|aku|gw|gue|me)|"
    r"(ditelp?on|ditelepon|telp?|telepon|menelepon|hubungi|dihubungi) (saya |sy |aku )?(balik|kembali)|"
    r"(orang|manusia|wong|jalma) (beneran|asli|tenan|nyata|sungguhan)|real (person|human|agent)|"
    r"(beneran|asli|sungguhan) (orang|manusia)|agen asli|cs (asli|beneran))\b"
)


# A name asked of a number or a card that is not said to be the customer's, or a card found and its owner.
_NAME_ON_A_NUMBER = re.compile(
    r"\b(nama|name|owner|pemilik|punya|milik)\b.*\b(sim|simcard|nomor|nomer|no|number|kartu|card)\b\s*"
    r"(ini|itu|tsb|tersebut|this|that)\b|\b(nemu|menemukan|ketemu|nemuin|found|temukan)\b.*\b(sim|simcard|kartu|card)\b"
)


def third_party_records(text: str) -> bool:
    """Someone else is named together with something that is theirs to keep (evidence, not a verdict)."""
    return bool(_THIRD_PARTY.search(text) and _RECORDS.search(text))


def asks_for_callback(text: str) -> bool:
    """Asking to be called back, or for a real person (evidence, not a verdict)."""
    return bool(_CALLBACK.search(text))


def rule_signals(raw: str, rule_text: str) -> tuple[float, ...]:
    """Each rule's verdict and cue as a feature for the classifier, which learns how far to trust it."""
    third_party = third_party_records(rule_text)
    return (
        float(is_privacy_request(rule_text)),
        float(asks_for_person(rule_text)),
        float(is_angry(raw, rule_text)),
        float(needs_account_data(rule_text)),
        float(is_greeting(rule_text.splitlines()[-1])),
        float(contains_personal_number(raw)),
        float(third_party),
        float(third_party and not _MINE_ONLY.search(rule_text)),
        float(asks_for_callback(rule_text)),
        float(bool(_NAME_ON_A_NUMBER.search(rule_text))),
    )
