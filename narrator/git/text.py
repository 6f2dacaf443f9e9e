"""Turning git's bytes into safe text: lenient decoding and removal of control characters.

Commit messages and file names are untrusted: terminal escape sequences, other control characters and
bidirectional overrides ("Trojan Source") are removed here, before any stage sees the text. This is the one
sanitizer: renderers call ``clean_text``/``one_line`` again on everything they print (config strings too).
"""

from __future__ import annotations

import re

# Terminal escape sequences (CSI, OSC such as hyperlinks, and single-character escapes), removed whole so
# that neither the sequence nor its payload (an OSC 8 link target) survives.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS / SOS / PM / APC strings
    r"|\x1b[ -/]*[0-~]?"  # other ESC sequences (and a lone ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# C0 controls except tab and newline, DEL, C1 controls, and bidi/zero-width format characters.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")


def decode(raw: bytes) -> str:
    """UTF-8 when possible; otherwise Latin-1-like replacement so no input ever fails to decode."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def clean_text(text: object) -> str:
    """Multi-line text with escape sequences and control characters removed (tabs and newlines kept)."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    text = _ANSI.sub("", text)
    return _CONTROL.sub("", text)


def clean_line(text: str) -> str:
    """One line of text: like ``clean_text`` with newlines and tabs turned into spaces."""
    return " ".join(clean_text(text).split())


def one_line(value: object) -> str:
    """Any value as one line of safe text (for renderers: config strings and numbers too)."""
    return _SPACES.sub(" ", clean_text(str(value))).strip()
