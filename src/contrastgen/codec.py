"""JSON for the typed records: one encoder and one decoder for every dataclass that
crosses a file or a pipe (records.py, generation.py, the judge's verdicts, the shared
engine's registry), instead of a hand-written pair per class.

A field's JSON key is its name. Nested records and lists of records follow their type
hints. On reading, a missing key takes the field's default (files written before the field
existed); a field without one is required, and a class's `json_upgrade` first turns an
older file's object into this schema's. A field whose metadata says `omit_none` is left
out of the JSON while it is None (a rule's `edit`, a corpus `donor`).
"""

from __future__ import annotations

import dataclasses
import typing
from functools import cache
from types import MappingProxyType
from typing import Any, TypeVar

T = TypeVar("T")
OMIT_NONE = MappingProxyType({"omit_none": True})


class MissingField(KeyError, ValueError):
    """A record's JSON lacks a field that has no default: a bad or truncated file (a
    ValueError, as a JSON document that does not parse is)."""


def to_json(record: Any) -> dict[str, Any]:
    """A dataclass instance as a JSON object, nested records included."""
    out = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if value is None and f.metadata.get("omit_none"):
            continue
        out[f.name] = _encode(value)
    return out


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(value)
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    """An instance of the dataclass `cls` from its JSON object; unknown keys are ignored."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: a JSON {type(data).__name__}, not an object")
    upgrade = getattr(cls, "json_upgrade", None)
    if upgrade is not None:
        data = upgrade(data)
    kwargs = {}
    for name, (hint, required) in _fields(cls).items():
        if name in data:
            kwargs[name] = _decode(hint, data[name])
        elif required:
            raise MissingField(f"{cls.__name__}: no {name!r}")
    return cls(**kwargs)


def _decode(hint: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return from_json(hint, value)
    if typing.get_origin(hint) is list and isinstance(value, list):
        (item,) = typing.get_args(hint) or (Any,)
        return [_decode(item, v) for v in value]
    if typing.get_origin(hint) is tuple and isinstance(value, list):
        args = typing.get_args(hint)
        item = args[0] if len(args) == 2 and args[1] is Ellipsis else Any
        return tuple(_decode(item, v) for v in value)
    return value


@cache
def _fields(cls: type) -> dict[str, tuple[Any, bool]]:
    """name -> (resolved type hint, required) of the dataclass's init fields."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: (
            hints[f.name],
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if f.init
    }


class JsonRecord:
    """`to_json` / `from_json` for a dataclass, through this module."""

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> typing.Self:
        return from_json(cls, data)
