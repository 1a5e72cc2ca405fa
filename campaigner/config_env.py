"""Settings from the environment: `CAMPAIGNER_<SECTION>__<KEY>=value` wins over the config file.

    CAMPAIGNER_PROVIDER__REQUESTS_PER_MINUTE=120
    CAMPAIGNER_DATABASE__POOL_MAX_SIZE=20
    CAMPAIGNER_PRICING__COUNTRIES__NL=0.07           # a key of a table: kept as written (NL)
    CAMPAIGNER_RECIPIENTS__PHONE_COLUMNS='["phone", "gsm"]'

This is how containers and systemd units set one value without a file of their own. Only names
with a double underscore are settings: `CAMPAIGNER_CONFIG`, `CAMPAIGNER_FORMAT` and the like belong
to the commands. The overrides are laid over the raw TOML mapping before it is validated, so a bad
value gets the same check and message as in the file, plus the variable's name. A scalar is handed
to the validation as text (which reads "120", "true" or "0.07" as the field's type, as it reads
TOML's own); a list or table is written as a TOML inline value.
"""

from __future__ import annotations

import tomllib
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from campaigner.errors import ConfigError

PREFIX = "CAMPAIGNER_"
SEPARATOR = "__"


class ConfigProblems(ConfigError):
    """A config with one or more mistakes; `problems` holds each as one line (`key: message`)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


def apply_env_overrides(
    raw: dict[str, Any], model: type[BaseModel], environ: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """`raw` with every `CAMPAIGNER_<SECTION>__<KEY>` of `environ` laid over it, and which variable
    set each dotted key (for error messages). `model` is the config's root model: it says which
    keys exist and which take a list or table. A variable naming no setting is a ConfigError."""
    merged = _copy_tables(raw)
    origins: dict[str, str] = {}
    problems: list[str] = []
    for variable in sorted(environ):
        if not variable.startswith(PREFIX) or SEPARATOR not in variable:
            continue
        path = variable.removeprefix(PREFIX).split(SEPARATOR)
        try:
            keys, takes_text = _resolve(variable, path, model)
            value = environ[variable] if takes_text else _inline_toml(variable, environ[variable])
        except ConfigError as exc:
            problems.append(str(exc))  # every bad variable at once, as for the file's keys
            continue
        table = merged
        for key in keys[:-1]:
            inner = table.get(key)
            if not isinstance(inner, dict):
                inner = table[key] = {}
            table = inner
        table[keys[-1]] = value
        origins[".".join(keys)] = variable
    if problems:
        raise ConfigProblems("environment", problems)
    return merged, origins


def _resolve(variable: str, path: list[str], model: type[BaseModel]) -> tuple[list[str], bool]:
    """The dotted keys `path` names, and whether its value is a scalar (True) or a list/table."""
    keys: list[str] = []
    current: type[BaseModel] | None = model
    annotation: Any = None
    for position, part in enumerate(path):
        if current is None:  # inside a table: any key, kept as written (country codes are upper case)
            if not part or position != len(path) - 1:
                raise ConfigError(f"{variable}: {'.'.join(keys)} takes exactly one key more")
            keys.append(part)
            return keys, True
        name = part.lower()
        fields = {n: f for n, f in current.model_fields.items() if not f.exclude}
        if name not in fields:
            where = ".".join(keys) or "the config"
            raise ConfigError(
                f"{variable}: {where} has no setting {name!r} (it has: {', '.join(sorted(fields))})"
            )
        keys.append(name)
        annotation = fields[name].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
        elif typing.get_origin(annotation) is dict and position < len(path) - 1:
            current = None
        elif position < len(path) - 1:
            raise ConfigError(f"{variable}: {'.'.join(keys)} is a single setting, not a section")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        raise ConfigError(f"{variable}: {'.'.join(keys)} is a section; name one of its settings")
    return keys, typing.get_origin(annotation) not in (list, dict)


def _inline_toml(variable: str, text: str) -> Any:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{variable}: not a TOML list or table ({exc})") from None


def _copy_tables(raw: dict[str, Any]) -> dict[str, Any]:
    """A copy of the nested tables of `raw` (the caller's mapping is left as it was)."""
    return {k: _copy_tables(v) if isinstance(v, dict) else v for k, v in raw.items()}
