"""What the Telegram channel says in its own words: buttons, commands, notices, and the officers' group texts.

The answers, refusals and handoff texts come from the core (`bot.core.phrases`); these are Telegram-only.
The officers' group is an Indonesian team, so its texts are Indonesian only.
"""

from __future__ import annotations

from bot.core import phrases

CANNOT = {
    "id": "Saya tidak bisa melihat atau mengubah data akun Anda, dan tidak memberikan data pribadi orang lain.",
    "en": "I can't see or change your account data, and I never share other people's personal data.",
}

HOW_TO = {
    "id": 'Ketik pertanyaan Anda, misalnya "cara cek pulsa". Ketik /human untuk berbicara dengan petugas.',
    "en": 'Type your question, for example "how do I check my credit". Send /human to talk to a person.',
}


def welcome(lang: str) -> str:
    """The /start and /help text: what the bot can do, what it cannot, and how to reach a person."""
    return f"{phrases.GREETING[lang]}\n\n{CANNOT[lang]}\n\n{HOW_TO[lang]}"


BUTTON_HELPFUL = {"id": "👍 Membantu", "en": "👍 Helpful"}
BUTTON_NOT_HELPFUL = {"id": "👎 Tidak membantu", "en": "👎 Not helpful"}
BUTTON_PERSON = {"id": "🙋 Bicara dengan petugas", "en": "🙋 Talk to a person"}

FEEDBACK_THANKS = {"id": "Terima kasih atas masukan Anda.", "en": "Thank you for your feedback."}

ALREADY_WITH_OFFICER = {
    "id": "Anda sudah terhubung dengan petugas. Balasan petugas akan muncul di percakapan ini.",
    "en": "You are already connected to an officer. Their reply will appear in this chat.",
}

NON_TEXT = {
    "id": 'Maaf, saya hanya bisa membaca pesan teks. Silakan ketik pertanyaan Anda, misalnya "cara cek kuota".',
    "en": 'Sorry, I can only read text messages. Please type your question, for example "how do I check my data".',
}

FLOOD = phrases.TOO_MANY_MESSAGES

HANDLER_ERROR = {
    "id": "Maaf, terjadi gangguan saat memproses pesan Anda. Silakan coba lagi sebentar lagi.",
    "en": "Sorry, something went wrong while handling your message. Please try again shortly.",
}

OFFICER_LABEL = {"id": "Petugas", "en": "Officer"}

SMS_USAGE = "Tulis pertanyaannya setelah perintah, misalnya: /sms cara cek pulsa"
SMS_OFFICERS_ONLY = "Perintah /sms khusus untuk petugas."
SMS_NO_FAQ = "tidak ada entri FAQ yang cocok"

# The officers' group (handoff reasons: `bot.core.phrases.reason_label`).
TICKET_HOW_TO = "↩️ Balas (reply) pesan ini untuk menjawab pelanggan; balas dengan /close untuk menutup tiket."
CLOSE_USAGE = "Balas (reply) salah satu pesan tiket dengan /close untuk menutup tiket itu."
OFFICERS_ONLY = "Maaf, hanya petugas terdaftar yang dapat menjawab atau menutup tiket."
REPLY_QUEUED = "✅ Diteruskan ke pelanggan (tiket #{ticket})."
TICKET_ALREADY_CLOSED = "Tiket #{ticket} sudah ditutup; balasan tidak dikirim ke pelanggan."
TICKET_CLOSED_BY = "🔒 Tiket #{ticket} ditutup oleh {officer}. Pelanggan diberi tahu bahwa Tanya kembali membantu."
TICKET_CLOSED_IDLE = "🔒 Tiket #{ticket} ditutup otomatis setelah {minutes} menit tanpa aktivitas."
POST_REFUSED = "⚠️ Telegram menolak kiriman tiket #{ticket} ke grup petugas ({reason}); lihat tiket ini di konsol web."
REPLY_UNDELIVERABLE = (
    "⚠️ Balasan untuk tiket #{ticket} tidak bisa dikirim ke pelanggan ({reason}). Hubungi pelanggan lewat kanal lain."
)
