"""Config files read the one way: YAML loaded with the file (and line) named in any
error, and each mapping checked against the dataclass it fills, so a typo or a wrong
type is named as `where.field` before anything slow starts."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any

from kd_core.errors import InputFileError, KDError


def read_yaml(path: str | Path) -> tuple[Any, Path]:
    """A YAML config file's data and its absolute path; a missing file, bad encoding or
    bad YAML is an InputFileError naming the file (and line)."""
    import yaml

    path = Path(path).expanduser()
    if not path.is_file():
        raise InputFileError(f"config file not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), path
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise InputFileError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', None) or e})") from None


def checked_fields(cls: type, data: Any, where: str) -> dict[str, Any]:
    """`data` as keyword arguments for the dataclass `cls`, or a KDError naming the bad field."""
    if not isinstance(data, dict):
        raise KDError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    out = {}
    for key, value in data.items():
        if key not in hints:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(names)})"
            raise KDError(f"{where}.{key}: unknown setting{hint}")
        if not _type_ok(value, hints[key]):
            want = _type_name(hints[key])
            raise KDError(f"{where}.{key}: expected {want}, got {type(value).__name__} {value!r}")
        out[key] = (_float_text(value) if isinstance(value, str) else float(value)) if hints[key] is float else value
    return out


def _type_ok(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is tuple:  # YAML has lists only
        item = (typing.get_args(hint) or (Any,))[0]
        return isinstance(value, (list, tuple)) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if hint is float:  # YAML reads 2 as an int; a number either way
        return isinstance(value, (int, float)) and not isinstance(value, bool) or _float_text(value) is not None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        return isinstance(value, (dict, hint))
    return isinstance(hint, type) and isinstance(value, hint)


def _float_text(value: Any) -> float | None:
    # PyYAML reads 1e-3 (no dot) as a string: the way most people write a learning rate.
    if not isinstance(value, str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _type_name(hint: Any) -> str:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is list:
        return f"a list of ({_type_name(args[0])})" if args else "a list"
    if args:
        return " or ".join(_type_name(a) for a in args)
    if hint is type(None):
        return "null"
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        return "a mapping"
    return {"float": "a number", "int": "an integer", "str": "a string", "bool": "true/false"}.get(getattr(hint, "__name__", ""), str(hint))
