"""Settings: flat environment names into small groups, every path from one root, copies validated like the original."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.core.masking import secrets_of
from bot.settings import FLAT_NAMES, GROUPS, Settings, TuningData


def read(monkeypatch: pytest.MonkeyPatch, folder: Path, **environment: str) -> Settings:
    """The settings a process started in `folder` with `environment` reads (no .env)."""
    for name in list(os.environ):
        if name.startswith("TANYA_") or name == "TELEGRAM_BOT_TOKEN":
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(folder)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_each_flat_environment_name_sets_its_group_field(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = read(
        monkeypatch,
        tmp_path,
        TANYA_WEB_PORT="9000",
        TANYA_OFFICER_IDS="[111, 222]",
        TANYA_WEB_ROLES='{"siti": ["officer"]}',
        TELEGRAM_BOT_TOKEN="123:abc",
        TANYA_TUNE_ON="kb+corpus",
        TANYA_BUSINESS_HOURS_START="7",
        TANYA_ANSWER_THRESHOLD="0.5",
        TANYA_CHROMA_HOST="",  # empty: unset, as in a .env written by `tanya settings`
    )
    assert settings.web.port == 9000 and settings.web.roles == {"siti": ["officer"]}
    assert settings.telegram.officer_ids == [111, 222]
    assert settings.telegram.bot_token is not None and settings.telegram.bot_token.get_secret_value() == "123:abc"
    assert settings.tuning.on is TuningData.KB_AND_CORPUS and settings.office.start == 7
    assert settings.answers.threshold == 0.5 and settings.index.chroma_host is None


def test_a_bad_value_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="epochs"):
        read(monkeypatch, tmp_path, TANYA_TUNE_EPOCHS="0")


def test_the_env_file_is_read_below_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TANYA_WEB_PORT=7000\nTANYA_WEB_HOST=0.0.0.0\n", encoding="utf-8")
    read(monkeypatch, tmp_path, TANYA_WEB_PORT="9000")
    settings = Settings(_env_file=tmp_path / ".env")  # type: ignore[call-arg]
    assert (settings.web.port, settings.web.host) == (9000, "0.0.0.0")


def test_every_path_is_resolved_from_the_root_and_the_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "site"
    default = read(monkeypatch, tmp_path, TANYA_ROOT=str(elsewhere))
    assert default.kb_dir == elsewhere / "kb" and default.var_dir == elsewhere / "var"
    assert default.index.store_dir == elsewhere / "var" / "index"
    assert default.model.cache_dir == elsewhere / "var" / "models"
    assert default.web.state_key_file == elsewhere / "var" / "web-state.key"
    assert default.database_url == f"sqlite:///{elsewhere / 'var' / 'tanya.db'}"
    assert default.labelled_calibration_file == elsewhere / "kb" / "calibration.json"
    moved = read(monkeypatch, tmp_path, TANYA_ROOT=str(elsewhere), TANYA_VAR_DIR="/srv/tanya", TANYA_KB_DIR="faq")
    assert moved.kb_dir == elsewhere / "faq" and moved.index.store_dir == Path("/srv/tanya/index")
    assert moved.tuned_kb_dir == elsewhere / "kb"  # `tuned:kb` names a folder from the root too


def test_flat_keywords_and_copies_validate_like_the_environment(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, kb_dir=tmp_path / "kb", web_port=8000, tune_epochs=2)  # type: ignore[call-arg]
    copy = settings.replaced(web_port=8001, tuned_generation=3)
    assert (copy.web.port, copy.tuning.generation, copy.tuning.epochs, copy.kb_dir) == (8001, 3, 2, tmp_path / "kb")
    assert settings.web.port == 8000  # the original is unchanged
    with pytest.raises(ValidationError):
        settings.replaced(tune_epochs=0)


def test_every_group_field_has_one_flat_name() -> None:
    fields = {(group, field) for group, model in GROUPS.items() for field in model.model_fields}
    assert set(FLAT_NAMES.values()) == fields and len(FLAT_NAMES) == len(fields)


def test_secrets_are_found_in_every_group(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = read(
        monkeypatch,
        tmp_path,
        TELEGRAM_BOT_TOKEN="123:abc",
        TANYA_TELEGRAM_WEBHOOK_SECRET="hook",
        TANYA_WEB_STATE_SECRET="state",
        TANYA_DATABASE_URL="postgresql://tanya:p%40ss@db/tanya",
    )
    assert set(secrets_of(settings)) == {"123:abc", "hook", "state", "p%40ss", "p@ss"}
