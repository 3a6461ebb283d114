"""What the bot says in its own words, in Indonesian and English."""

from __future__ import annotations

from datetime import datetime

from bot.core.business_hours import BusinessHours
from bot.core.messages import HandoffReason, MessageRole

CAPABILITIES = {
    "id": "Saya bisa membantu soal pulsa, kuota, paket, kartu SIM, registrasi, tagihan pascabayar, roaming, "
    "jaringan dan internet. Untuk hal yang perlu data akun Anda, saya sambungkan ke petugas.",
    "en": "I can help with credit, data, packages, SIM cards, registration, postpaid bills, roaming, "
    "network and internet. For anything that needs your account data, I'll connect you to an officer.",
}

GREETING = {
    "id": "Halo! Saya Tanya, asisten layanan pelanggan. " + CAPABILITIES["id"] + " Silakan ketik pertanyaan Anda.",
    "en": "Hello! I'm Tanya, the customer-service assistant. " + CAPABILITIES["en"] + " Please type your question.",
}

EMPTY = {
    "id": 'Pesan Anda kosong. Silakan ketik pertanyaan Anda, misalnya: "cara cek pulsa".',
    "en": 'Your message is empty. Please type your question, for example: "how do I check my credit".',
}

MESSAGE_CUT = {
    "id": "(Pesan Anda sangat panjang: saya hanya membaca {limit} karakter pertamanya.)",
    "en": "(Your message is very long: I read only its first {limit} characters.)",
}

TOO_MANY_MESSAGES = {
    "id": "Anda mengirim terlalu banyak pesan dalam waktu singkat. Mohon tunggu sebentar sebelum mengirim lagi.",
    "en": "You are sending too many messages too quickly. Please wait a moment before sending more.",
}

TOO_MANY_HANDOFFS = {
    "id": "Terlalu banyak permintaan petugas dari jaringan Anda dalam waktu singkat. Mohon coba lagi beberapa menit "
    "lagi.",
    "en": "Too many requests for an officer from your network in a short time. Please try again in a few minutes.",
}

DECLINE = {
    "id": "Maaf, pertanyaan itu di luar layanan yang bisa saya bantu. " + CAPABILITIES["id"],
    "en": "Sorry, that is outside what I can help with. " + CAPABILITIES["en"],
}

REFUSE = {
    "id": "Maaf, saya tidak dapat memberikan data pribadi orang lain (pemilik nomor, NIK, alamat, riwayat panggilan "
    "atau lokasi): operator wajib merahasiakan informasi pelanggan (UU 36/1999 pasal 42) dan membuka data pribadi "
    "orang lain dilarang (UU 27/2022). Yang bisa Anda lakukan: cek nomor yang terdaftar atas NIK Anda sendiri, "
    "laporkan nomor penipu atau spam kepada kami, dan bila Anda korban penipuan, lapor ke polisi; data hanya dibuka "
    "atas permintaan resmi penegak hukum.",
    "en": "Sorry, I can't share anyone else's personal data (who owns a number, NIK, address, call history or "
    "location): operators must keep customer information confidential (Law 36/1999 art. 42) and disclosing someone "
    "else's personal data is an offence (Law 27/2022). What you can do: check the numbers registered to your own "
    "NIK, report a scam or spam number to us, and if you were scammed, report it to the police; data is only "
    "released to law enforcement on formal request.",
}

HANDOFF_OPENING = {
    "asked_for_person": {
        "id": "Baik, saya sambungkan Anda dengan petugas.",
        "en": "Sure, I'm connecting you to an officer.",
    },
    "angry": {
        "id": "Mohon maaf atas ketidaknyamanannya. Saya sambungkan Anda dengan petugas agar bisa ditangani langsung.",
        "en": "I'm sorry for the trouble. I'm passing you to an officer so it can be handled personally.",
    },
    "account_data": {
        "id": "Pertanyaan ini perlu pengecekan data akun Anda, jadi saya teruskan ke petugas.",
        "en": "This needs a look at your account, so I'm passing it to an officer.",
    },
    "low_confidence": {
        "id": "Saya belum yakin dengan jawabannya, jadi saya teruskan ke petugas agar Anda tidak mendapat info yang salah.",
        "en": "I'm not sure of the answer, so I'm passing it to an officer rather than guess.",
    },
}

SOURCE_LABEL = {"id": "Sumber", "en": "Source"}

# Why a ticket was opened, as officers read it: in the officers' Telegram group (Indonesian) and the web console
# and analytics (both languages).
HANDOFF_REASON_LABEL: dict[str, dict[str, str]] = {
    HandoffReason.ASKED_FOR_PERSON: {"id": "pelanggan minta petugas", "en": "asked for a person"},
    HandoffReason.ANGRY: {"id": "pelanggan kecewa/marah", "en": "upset customer"},
    HandoffReason.ACCOUNT_DATA: {"id": "perlu data akun", "en": "account data"},
    HandoffReason.LOW_CONFIDENCE: {"id": "bot tidak yakin", "en": "low confidence"},
}


# Who wrote a ticket message, as officers read the transcript (Telegram's group and the web console). A note is
# said to officers only (a reply that could not be delivered), never sent to the customer.
MESSAGE_ROLE_LABEL: dict[MessageRole, str] = {
    MessageRole.CUSTOMER: "👤 Pelanggan",
    MessageRole.BOT: "🤖 Tanya",
    MessageRole.OFFICER: "🧑‍💼 Petugas",
    MessageRole.SYSTEM: "ℹ️ Sistem",
    MessageRole.NOTE: "⚠️ Catatan / note",
}


def reason_label(reason: str, *, bilingual: bool = False) -> str:
    """A handoff reason for officers: "perlu data akun", or "perlu data akun / account data"; unknown ones as is."""
    label = HANDOFF_REASON_LABEL.get(reason)
    if label is None:
        return reason
    return f"{label['id']} / {label['en']}" if bilingual else label["id"]


def handoff_text(reason: str, lang: str, hours: BusinessHours, now: datetime | None = None) -> str:
    """The handoff reply, saying honestly when a person will answer."""
    opening = HANDOFF_OPENING.get(reason, HANDOFF_OPENING["low_confidence"])[lang]
    zone = hours.zone_label()
    if hours.is_open(now):
        when = {
            "id": f"Petugas kami sedang bertugas (pukul {hours.start:02d}.00–{hours.end:02d}.00 {zone}) dan akan membalas di percakapan ini sesegera mungkin.",
            "en": f"Our officers are on duty ({hours.start:02d}:00–{hours.end:02d}:00 {zone}) and will reply in this chat as soon as possible.",
        }
    else:
        nxt = hours.next_opening(now)
        day = {
            "id": "hari ini" if nxt.date() == hours.local(now).date() else "besok",
            "en": "today" if nxt.date() == hours.local(now).date() else "tomorrow",
        }
        when = {
            "id": f"Saat ini di luar jam kerja petugas ({hours.start:02d}.00–{hours.end:02d}.00 {zone}). Pertanyaan Anda sudah masuk antrean dan akan dibalas {day['id']} mulai pukul {nxt:%H.%M} {zone} di percakapan ini.",
            "en": f"It is outside officer hours ({hours.start:02d}:00–{hours.end:02d}:00 {zone}). Your question is in the queue and an officer will reply in this chat from {nxt:%H:%M} {zone} {day['en']}.",
        }
    return f"{opening} {when[lang]}"


BOT_BACK = {
    "id": "Percakapan dengan petugas sudah selesai. Tanya kembali membantu Anda; silakan ketik pertanyaan berikutnya.",
    "en": "The conversation with our officer has ended. Tanya is back to help; type your next question any time.",
}

FORWARDED = {
    "id": "Pesan Anda sudah diteruskan ke petugas yang menangani percakapan ini.",
    "en": "Your message has been passed to the officer handling this conversation.",
}

SMS_NO_ANSWER = {
    "id": "Belum ada jawaban pasti di basis pengetahuan; sarankan hubungi 188.",
    "en": "No confident answer in the knowledge base; suggest calling 188.",
}
