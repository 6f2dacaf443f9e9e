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
# Everything invisible that can reorder, hide or forge text: C0 controls except tab and newline, DEL, C1
# controls, and every Unicode format character (category Cf: bidi marks, embeddings, overrides and isolates
# U+061C U+200E/F U+202A-202E U+2066-2069, zero-width characters, word joiners and invisible operators, the
# soft hyphen, interlinear annotations, tag characters), plus the Hangul fillers that render as nothing.
INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_CONTROL = INVISIBLE
_LINE_SEPARATORS = re.compile("[\u2028\u2029]")  # Unicode line and paragraph separators: plain newlines
_SPACES = re.compile(r"\s+")


def decode(raw: bytes) -> str:
    """UTF-8 when possible; otherwise Latin-1-like replacement so no input ever fails to decode."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


_ASCII_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # what the substitutions below can change in ASCII text


def clean_text(text: object) -> str:
    """Multi-line text with escape sequences and control characters removed (tabs and newlines kept)."""
    text = str(text)
    if text.isascii() and not _ASCII_CONTROL.search(text):  # most text: nothing to remove (one scan, not five)
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _LINE_SEPARATORS.sub("\n", text)
    text = _ANSI.sub("", text)
    return _CONTROL.sub("", text)


def clean_line(text: str) -> str:
    """One line of text: like ``clean_text`` with newlines and tabs turned into spaces."""
    return " ".join(clean_text(text).split())


def one_line(value: object) -> str:
    """Any value as one line of safe text (for renderers: config strings and numbers too)."""
    return _SPACES.sub(" ", clean_text(str(value))).strip()
