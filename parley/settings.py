"""Settings from command-line flags and environment variables, declared once as dataclasses.

A settings class is a frozen dataclass whose fields each carry an environment variable name and
a help text (see :func:`option`). :func:`add_arguments` turns its fields into ``--flags``;
:func:`resolve` builds the instance with this precedence: flag, then environment variable,
then the field's default. Every default is thus documented in ``--help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """A flag or environment variable has a value that cannot be used."""


def option(env: str, help: str, **kwargs: Any) -> Any:  # noqa: A002 - mirrors argparse
    """Field metadata for a setting: its environment variable and its help text."""
    return {"env": env, "help": help, **kwargs}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _field_types(cls: type) -> dict[str, type]:
    return typing.get_type_hints(cls)


def add_arguments(
    parser: argparse.ArgumentParser, cls: type, defaults: Mapping[str, Any] | None = None
) -> None:
    """Adds one ``--flag`` per field of the settings class ``cls`` to ``parser``.

    Args:
        parser: parser to extend.
        cls: a dataclass whose fields were declared with :func:`option` metadata.
        defaults: replacement defaults for some fields (for example another port).
    """
    defaults = defaults or {}
    types = _field_types(cls)
    title = (cls.__doc__ or cls.__name__).splitlines()[0].rstrip(".")
    group = parser.add_argument_group(title)
    for field in dataclasses.fields(cls):
        meta = field.metadata
        default = defaults.get(field.name, field.default)
        help_text = f"{meta['help']} (env {meta['env']}; default: {default!r})"
        kind = types[field.name]
        kwargs: dict[str, Any] = {"dest": f"{cls.__name__}.{field.name}", "default": None}
        if "choices" in meta:
            kwargs["choices"] = meta["choices"]
        if kind is bool:
            group.add_argument(
                _flag(field.name), action=argparse.BooleanOptionalAction, help=help_text, **kwargs
            )
        else:
            group.add_argument(
                _flag(field.name),
                type=kind,
                metavar=meta.get("metavar", field.name.upper()),
                help=help_text,
                **kwargs,
            )


def _parse_env(kind: type, name: str, raw: str) -> Any:
    if kind is bool:
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise SettingsError(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")
    try:
        return kind(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from exc


def resolve(
    cls: type[T],
    args: argparse.Namespace | None = None,
    environ: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> T:
    """Builds the settings class from flags, then environment, then defaults.

    Raises:
        SettingsError: if an environment variable or choice is invalid.
    """
    environ = os.environ if environ is None else environ
    defaults = defaults or {}
    types = _field_types(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        meta = field.metadata
        flag_value = getattr(args, f"{cls.__name__}.{field.name}", None) if args else None
        if flag_value is not None:
            value = flag_value
        elif meta["env"] in environ:
            value = _parse_env(types[field.name], meta["env"], environ[meta["env"]])
        elif field.name in defaults:
            value = defaults[field.name]
        else:
            continue
        if "choices" in meta and value not in meta["choices"]:
            raise SettingsError(
                f"{meta['env']}={value!r}: choose one of {', '.join(map(str, meta['choices']))}"
            )
        values[field.name] = value
    return cls(**values)


def describe(cls: type) -> list[tuple[str, str, Any, str]]:
    """(flag, environment variable, default, help) for each field, for documentation."""
    return [
        (_flag(f.name), f.metadata["env"], f.default, f.metadata["help"])
        for f in dataclasses.fields(cls)
    ]
