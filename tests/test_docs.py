"""The README stays true to the code."""

from __future__ import annotations

import pytest

from clients.gateway.config import GatewayConfig
from parley.logs import LogConfig
from parley.server import ServerConfig
from parley.settings import describe
from services.rooms.config import RoomsConfig
from services.stt.config import SttConfig
from services.translate.config import TranslateConfig
from services.tts.config import TtsConfig
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize(
    "settings",
    [ServerConfig, LogConfig, RoomsConfig, SttConfig, TranslateConfig, TtsConfig, GatewayConfig],
)
def test_every_setting_is_in_the_readme_with_its_default(settings):
    for flag, env, default, _help in describe(settings):
        rows = [line for line in README.splitlines() if line.startswith(f"| `{flag}` | `{env}` |")]
        assert rows, f"{flag} / {env} is missing from the README's configuration tables"
        assert any(f"`{default}`" in row for row in rows), rows


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert f"\n{ci}\n" in README
