"""The JSON text of one report value: compact, ASCII-only, safe inside HTML ``<script>`` (``&``, ``<``, ``>``
escaped). The one encoder of ``json_out`` (the streamed report) and of ``spill`` (commit entries kept on disk as
this very text, copied to the output unchanged)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, Callable

JSON_ESCAPES = (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"))

# A dataclass type -> (its field names in declaration order, a getter of all of them at once): a long report
# converts tens of thousands of entries, changelog references and signals, each in one C call.
_FIELD_GETTERS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple]]] = {}


def _field_getter(kind: type, fields: Any) -> tuple[tuple[str, ...], Callable[[Any], tuple]]:
    names = tuple(fields)
    if len(names) >= 2:
        getter: Callable[[Any], tuple] = attrgetter(*names)  # a tuple of the values
    else:
        def getter(value: Any) -> tuple:
            return tuple(getattr(value, name) for name in names)
    found = _FIELD_GETTERS[kind] = (names, getter)
    return found


def encode_default(value: Any) -> Any:
    """json's hook for the report's dataclasses (their fields in declaration order), datetimes and list-like
    views (``spill.Entries``)."""
    kind = type(value)
    found = _FIELD_GETTERS.get(kind)
    if found is None:
        if isinstance(value, datetime):
            return value.isoformat()
        fields = getattr(kind, "__dataclass_fields__", None)
        if fields is None:
            if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
                return list(value)
            raise TypeError(f"{kind.__name__} is not JSON serializable")
        found = _field_getter(kind, fields)
    names, getter = found
    return dict(zip(names, getter(value)))


# one encoder for every piece (``json.dumps`` with these arguments builds a new one per call)
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), default=encode_default)


def piece(value: Any) -> str:
    """``value`` as compact, ASCII-only JSON text, ``&<>`` escaped."""
    text = _ENCODER.encode(value)
    for char, code in JSON_ESCAPES:
        if char in text:
            text = text.replace(char, code)
    return text
