"""Turning git's bytes into safe text: lenient decoding and removal of control characters.

Commit messages and file names are untrusted: terminal escape sequences, other control characters and
bidirectional overrides ("Trojan Source") are removed here, once, before any stage sees the text.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, and bidi/zero-width format characters.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?")


def decode(raw: bytes) -> str:
    """UTF-8 when possible; otherwise Latin-1-like replacement so no input ever fails to decode."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def clean_text(text: str) -> str:
    """Multi-line text with escape sequences and control characters removed (tabs and newlines kept)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ANSI.sub("", text)
    return _CONTROL.sub("", text)


def clean_line(text: str) -> str:
    """One line of text: like ``clean_text`` with newlines and tabs turned into spaces."""
    return " ".join(clean_text(text).split())
