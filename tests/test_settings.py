"""Settings: flag over environment over default, with clear errors."""

from __future__ import annotations

import argparse

import pytest

from parley.logs import LogConfig
from parley.server import ServerConfig
from parley.settings import SettingsError, add_arguments, describe, resolve


def parse(*argv: str, port: int = 50051) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser, ServerConfig, defaults={"port": port})
    return parser.parse_args(list(argv))


def test_defaults_when_nothing_is_set():
    config = resolve(ServerConfig, parse(), environ={}, defaults={"port": 50052})
    assert config.port == 50052
    assert config.host == "127.0.0.1"


def test_environment_overrides_default_and_flag_overrides_environment():
    env = {"PARLEY_PORT": "6000", "PARLEY_SHUTDOWN_GRACE_S": "2.5"}
    assert resolve(ServerConfig, parse(), environ=env).port == 6000
    assert resolve(ServerConfig, parse(), environ=env).shutdown_grace_s == 2.5
    assert resolve(ServerConfig, parse("--port", "7000"), environ=env).port == 7000


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PARLEY_PORT": "x"}, "not a valid int"),
        ({"PARLEY_LOG_LEVEL": "loud"}, "choose one of debug, info, warning, error"),
    ],
)
def test_bad_environment_values_are_rejected(env, message):
    with pytest.raises(SettingsError, match=message):
        resolve(ServerConfig, parse(), environ=env)
        resolve(LogConfig, parse(), environ=env)


def test_every_setting_is_documented():
    for flag, env, _default, help_text in describe(ServerConfig):
        assert flag.startswith("--") and env.startswith("PARLEY_") and help_text
