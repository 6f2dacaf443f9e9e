"""The JSON text of one report value: compact, ASCII-only, safe inside HTML ``<script>`` (``&``, ``<``, ``>``
escaped). The one encoder of ``json_out`` (the streamed report) and of ``spill`` (commit entries kept on disk as
this very text, copied to the output unchanged)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

JSON_ESCAPES = (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"))


def encode_default(value: Any) -> Any:
    """json's hook for the report's dataclasses (their fields in declaration order), datetimes and list-like
    views (``spill.Entries``)."""
    if isinstance(value, datetime):
        return value.isoformat()
    fields = getattr(type(value), "__dataclass_fields__", None)
    if fields is None:
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            return list(value)
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return {name: getattr(value, name) for name in fields}


def piece(value: Any) -> str:
    """``value`` as compact, ASCII-only JSON text, ``&<>`` escaped."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=encode_default)
    for char, code in JSON_ESCAPES:
        if char in text:
            text = text.replace(char, code)
    return text
