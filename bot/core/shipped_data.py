"""Where the data Tanya ships lives (`bot/data/`: vocabularies, intent examples, the tuning corpus)."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
