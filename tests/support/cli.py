"""A small knowledge base written into a folder, and the `tanya` command run in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.workspace import MODEL_CACHE, TEST_MODEL

KB_FILES = {
    "faq/pulsa.yaml": """\
faq:
  - id: cek-pulsa
    question: Bagaimana cara cek sisa pulsa?
    alternates: [gmn cek pulsa, how do I check my credit balance]
    answer: Tekan *123# lalu pilih Info Pulsa.
    answer_en: Dial *123# and choose Credit Info.
    tags: [pulsa]
  - id: isi-pulsa
    question: Bagaimana cara isi pulsa?
    alternates: [beli pulsa dimana]
    answer: Beli voucher di toko terdekat atau isi lewat MyNusantel.
""",
    "faq/roaming.csv": (
        "id,question,alternates,answer,answer_en,tags\n"
        "roaming-aktif,Bagaimana cara mengaktifkan roaming internasional?,cara roaming ke luar negeri|how do I turn on roaming,"
        "Tekan *123*5# sebelum berangkat.,Dial *123*5# before you travel.,roaming\n"
    ),
    "docs/tarif.md": "# Tarif Prabayar\n\n## Telepon\n\nRp13 per detik ke sesama Nusantel.\n\n## SMS\n\nRp150 per SMS.\n",
    "glossary.yaml": "synonyms:\n  pulsa: [pulsah, credit]\n",
}
UNITS = 5  # three FAQ entries, two document chunks
TEXTS = 4 + 3 + 4 + 2  # question, alternates and answer of each entry; one text per chunk


def tanya(folder: Path, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the `tanya` command in `folder` (its kb/, index/ and database), as a user would."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TANYA_") and k != "TELEGRAM_BOT_TOKEN"}
    environment.update(
        TANYA_STORE_DIR=str(folder / "index"),
        TANYA_KB_DIR=str(folder / "kb"),
        TANYA_MODEL_CACHE_DIR=str(MODEL_CACHE),
        TANYA_EMBEDDING_MODEL=TEST_MODEL,
        TANYA_RETUNE_AFTER_CHANGES="0",
        TANYA_DATABASE_URL=f"sqlite:///{folder / 'tanya.db'}",
        ANONYMIZED_TELEMETRY="False",
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot.app.cli", *args],
        cwd=folder,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def write_kb(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / "kb" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
