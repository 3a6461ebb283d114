"""The settings two or more Tanya replicas of one site share: one Chroma server, one database, one kb/ folder.

tests/e2e/test_replicas.py runs replicas with them; tests/unit/test_deploy_files.py checks that the deployment files
in deploy/ set every one of them.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.services.staff_accounts import hash_password
from bot.settings import BUNDLED_MODEL
from support.web_server import EDITOR_LOGIN, OFFICER_LOGIN
from support.workspace import MODEL_CACHE

# What makes processes replicas of one site, rather than settings any single process may have too.
CLUSTER_SETTINGS = (
    "TANYA_CHROMA_HOST",
    "TANYA_CHROMA_PORT",
    "TANYA_COLLECTION",
    "TANYA_DATABASE_URL",
    "TANYA_KB_DIR",
    "TANYA_MODEL_CACHE_DIR",
    "TANYA_RETUNE_AFTER_CHANGES",
    "TANYA_FOLLOW_SECONDS",
    "TANYA_WEB_STATE_SECRET",
)


def cluster_env(folder: Path, chroma_port: int, database_url: str) -> dict[str, str]:
    users = {name: hash_password(password) for name, password in (EDITOR_LOGIN, OFFICER_LOGIN)}
    roles = {EDITOR_LOGIN[0]: ["officer", "editor", "analyst"], OFFICER_LOGIN[0]: ["officer"]}
    return {
        "TANYA_CHROMA_HOST": "127.0.0.1",
        "TANYA_CHROMA_PORT": str(chroma_port),
        "TANYA_COLLECTION": "replicas",
        "TANYA_DATABASE_URL": database_url,
        "TANYA_KB_DIR": str(folder / "kb"),  # one kb/ folder for the site (a shared volume in the deployment)
        "TANYA_MODEL_CACHE_DIR": str(MODEL_CACHE),
        "TANYA_EMBEDDING_MODEL": BUNDLED_MODEL,  # the model a replica of a fresh site serves; no tuning needed
        "TANYA_RETUNE_AFTER_CHANGES": "0",
        "TANYA_FOLLOW_SECONDS": "1",
        "TANYA_WEB_STATE_SECRET": "replicas-test-state-secret-0123456789",
        "TANYA_WEB_USERS": json.dumps(users),
        "TANYA_WEB_ROLES": json.dumps(roles),
        "TANYA_WEB_HOST": "127.0.0.1",
        "ANONYMIZED_TELEMETRY": "False",
        "HF_HUB_OFFLINE": "1",
    }
