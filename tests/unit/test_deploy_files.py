"""The deployment files in deploy/ (not run here: no container runtime) use only real commands and settings, and
set everything the replica tests give replicas of one site."""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest
from pydantic import BaseModel
from ruamel.yaml import YAML
from support.cluster import CLUSTER_SETTINGS
from support.workspace import REPO

from bot.app.cli import build_parser
from bot.settings import FLAT_NAMES, Settings, environment_variable

DEPLOY = REPO / "deploy"
ROOT_SETTINGS = [
    name
    for name, field in Settings.model_fields.items()
    if not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel))
]
KNOWN = {environment_variable(name) for name in [*FLAT_NAMES, *ROOT_SETTINGS]}


def compose() -> dict:  # type: ignore[type-arg]
    return YAML(typ="safe").load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def tanya_services() -> dict[str, dict]:  # type: ignore[type-arg]
    return {name: s for name, s in compose()["services"].items() if "build" in s}


def env_file_settings() -> dict[str, str]:
    lines = (DEPLOY / "tanya.env.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def tanya_commands(command: list[str]) -> list[list[str]]:
    """The `tanya ...` invocations of a service's command (a shell line is split at `&&`)."""
    words = shlex.split(command[2]) if command[:2] == ["sh", "-c"] else command
    line, commands = " ".join(words), []
    for part in line.split("&&"):
        args = shlex.split(part)
        if args:
            assert args[0] == "tanya", f"not a tanya command: {part}"
            commands.append(args[1:])
    return commands


def test_the_cluster_has_two_replicas_the_servers_and_a_proxy() -> None:
    services = compose()["services"]
    assert {"chroma", "postgres", "proxy", "tanya-a", "tanya-b"} <= set(services)
    upstream = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "server tanya-a:7860;" in upstream and "server tanya-b:7860;" in upstream


@pytest.mark.parametrize("service", sorted(tanya_services()))
def test_every_tanya_command_parses(service: str) -> None:
    commands = tanya_commands(tanya_services()[service]["command"])
    assert commands
    for args in commands:
        build_parser().parse_args(args)  # exits (fails the test) on an unknown command or flag


def test_every_setting_is_a_real_one_and_the_replicas_share_what_the_tests_share() -> None:
    for name, service in tanya_services().items():
        environment = {**service["environment"], **env_file_settings()}
        unknown = {k for k in environment if k.startswith("TANYA_") and k not in KNOWN}
        assert not unknown, f"{name}: {unknown}"
        assert set(CLUSTER_SETTINGS) <= set(environment), name
        assert environment["TANYA_RETUNE_AFTER_CHANGES"] == "0"  # one tune for the site, by `setup`
    systemd = (DEPLOY / "tanya@.service").read_text(encoding="utf-8")
    for name in re.findall(r"Environment=(TANYA_\w+)=", systemd):
        assert name in KNOWN


def test_the_chroma_image_is_the_pinned_chromadb() -> None:
    pins = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    chromadb = next(p for p in pins if p.startswith("chromadb=="))
    assert compose()["services"]["chroma"]["image"] == "chromadb/chroma:" + chromadb.removeprefix("chromadb==")
