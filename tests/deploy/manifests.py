"""Reading the deployment files as the tools that run them do: the Dockerfile's final stage,
the compose file as `docker-compose config` resolves it, the Kubernetes manifests, and the
.dockerignore's build context."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"

# A key long enough for the servers (16 characters at least); never a real one.
TEST_KEY = "deploy-test-key-not-a-secret-0123"

# The service name each component's health check must name.
SERVICE_NAMES = {
    "rooms": "parley.v1.RoomService",
    "stt": "parley.v1.SpeechToTextService",
    "translate": "parley.v1.TranslationService",
    "tts": "parley.v1.TextToSpeechService",
}
STATELESS = ("stt", "translate", "tts")


# --- Dockerfile -----------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Dockerfile:
    """The final stage of a Dockerfile (the image that runs)."""

    base: str
    instructions: list[Instruction]
    stages: list[str] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> str:
        (args,) = self.all(keyword)
        return args

    @property
    def env(self) -> dict[str, str]:
        """Every ENV of the final stage, in order (later ones win)."""
        env: dict[str, str] = {}
        for args in self.all("ENV"):
            for item in shlex.split(args):
                key, sep, value = item.partition("=")
                assert sep, f"ENV {args!r}: use the KEY=value form"
                env[key] = value
        return env

    @property
    def cmd(self) -> list[str]:
        return _exec_form("CMD", self.one("CMD"))

    @property
    def healthcheck(self) -> list[str]:
        """The HEALTHCHECK command, after its options."""
        args = self.one("HEALTHCHECK")
        _options, sep, command = args.partition("CMD ")
        assert sep, f"HEALTHCHECK {args!r} has no CMD"
        return _exec_form("HEALTHCHECK CMD", command)


def _exec_form(what: str, text: str) -> list[str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        pytest.fail(
            f"{what} {text!r} is not in exec form (a JSON array): signals would not reach it"
        )
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), text
    return value


def read_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    """Parses ``path``: comments dropped, continuation lines joined, stages split at FROM."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation"
    stages: list[list[Instruction]] = []
    bases: list[str] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            bases.append(args.split()[0])
            stages.append([])
        elif keyword == "ARG" and not stages:
            continue
        else:
            assert stages, f"{line!r} before the first FROM"
            stages[-1].append(Instruction(keyword, " ".join(args.split())))
    return Dockerfile(bases[-1], stages[-1], bases)


# --- docker-compose -------------------------------------------------------------------------


def docker_compose() -> str:
    """Path of Debian's docker-compose (it validates with no Docker engine)."""
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail(
            "docker-compose is missing: run scripts/install-system.sh (Debian package "
            "docker-compose), as the README set-up does"
        )
    return path


def compose_config(
    tmp_dir: Path, env: dict[str, str] | None = None, compose_file: Path = COMPOSE
) -> subprocess.CompletedProcess:
    """``docker-compose config`` of ``compose_file``, with ``env`` as the only environment of
    interpolation (an empty --env-file in ``tmp_dir``, so that a developer's .env plays no
    part)."""
    empty = tmp_dir / "empty.env"
    empty.write_text("")
    return subprocess.run(
        [docker_compose(), "--env-file", str(empty), "-f", str(compose_file), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], **(env or {})},
    )


def resolved_compose(tmp_dir: Path) -> dict:
    """The compose file as docker-compose resolves it, with the test key."""
    result = compose_config(tmp_dir, env={"PARLEY_API_KEY": TEST_KEY})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


# --- Kubernetes -----------------------------------------------------------------------------


def k8s_files() -> list[Path]:
    """Every manifest under deploy/k8s (the kustomization excepted)."""
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def k8s_objects() -> list[dict]:
    objects = []
    for path in k8s_files():
        objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


def k8s_by_kind(kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in k8s_objects() if o["kind"] == kind}


def component(obj: dict) -> str:
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]


# --- .dockerignore --------------------------------------------------------------------------


def _pattern(glob: str) -> re.Pattern:
    out = ""
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif glob.startswith("**", i):
            out += ".*"
            i += 2
        elif glob[i] == "*":
            out += "[^/]*"
            i += 1
        elif glob[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(glob[i])
            i += 1
    return re.compile(out + r"\Z")


def dockerignore_rules(path: Path = ROOT / ".dockerignore") -> list[tuple[bool, re.Pattern]]:
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        glob = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((keep, _pattern(glob)))
    return rules


def in_context(relative: str, rules: list[tuple[bool, re.Pattern]]) -> bool:
    """Whether Docker sends ``relative`` in the build context: the last rule that matches the
    path or one of its parent folders decides (Docker's .dockerignore semantics)."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    included = True
    for keep, pattern in rules:
        if any(pattern.match(p) for p in prefixes):
            included = keep
    return included


def build_context(target: Path) -> list[str]:
    """Copies the files Docker would send as the build context into ``target``; returns them."""
    rules = dockerignore_rules()
    copied = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = Path(dirpath).relative_to(ROOT)
        dirnames[:] = [d for d in dirnames if d not in (".git", ".venv")]
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            if in_context(rel, rules):
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, target / rel)
                copied.append(rel)
    return sorted(copied)
