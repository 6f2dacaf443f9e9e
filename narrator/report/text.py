"""Words and escaping for report text: Markdown escaping, plurals, lists, sentences, day and period words.

The sanitizer of untrusted text is ``narrator.git.text`` (``clean_text``/``one_line``); this module builds on
it for what renderers and the report model write.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Sequence

from narrator.git.text import clean_text, one_line

__all__ = ["clean_text", "one_line", "md_escape", "plural", "join_words", "sentence", "day_label", "day_words",
           "count_words", "period_words", "are"]

_MD_ALWAYS = re.compile(r"([`*|])")  # code spans, emphasis, table cells
# A "[" opens a link, an image or a reference only with "](", "][" or a definition's "]:" after it: without
# any of them in the text, "dependabot[bot]" and "a[0]" stay as written.
_MD_LINKISH = re.compile(r"\]\s*[(\[:]")
_MD_BACKSLASH = re.compile(r"\\(?=[!-/:-@\[-`{-~]|$)")  # a backslash that would escape what follows
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # only at a word's edge can _ emphasise
_MD_TAG = re.compile(r"<(?=[A-Za-z/!?])")  # the start of an HTML tag or autolink; "a -> b" stays as it is
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_MD_LEADING = re.compile(r"^([-+=#>])|^(\d{1,9})([.)])(?=\s|$)")


def md_escape(value: object, brackets: bool = False) -> str:
    """Escape text for inline Markdown (paragraphs, list items and table cells), readable as plain text.

    Nothing in the result can open a link, image, HTML tag, heading, emphasis, code span, strikethrough,
    table cell, block quote or list item, yet only what could do so is escaped: ``should_ignore_error``,
    ``a -> b``, ``docs/results.md`` and ``dependabot[bot]`` stay as written, so the Markdown reads clean when
    pasted into mail or chat. Square brackets are escaped, both of them, when the text holds ``](``, ``][`` or
    ``]:`` (what a link, an image or a reference needs), or always with ``brackets`` (a link's own text).
    Newlines are folded to spaces.
    """
    text = one_line(value)
    text = _MD_BACKSLASH.sub(r"\\\\", text)
    text = _MD_ALWAYS.sub(r"\\\1", text)
    if brackets or ("]" in text and _MD_LINKISH.search(text)):
        # both sides: a "]" of this text must not close a "[" written by another value on the same line
        text = text.replace("[", "\\[").replace("]", "\\]")
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    if text.count("~") > 1:
        text = text.replace("~", "\\~")
    text = _MD_ENTITY.sub(r"\\&", text)
    text = _MD_TAG.sub("&lt;", text)
    return _MD_LEADING.sub(lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), text)


def plural(count: int, one: str, many: str | None = None) -> str:
    """"1 commit", "2,031 commits"."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def are(count: int, one: str, many: str) -> str:
    """"1 is a merge", "3 are merges"."""
    return f"{count:,} {'is' if count == 1 else 'are'} {one if count == 1 else many}"


def join_words(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c" (empty items dropped)."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def sentence(value: object) -> str:
    """One line ending with a full stop (unless it already ends a sentence)."""
    text = one_line(value)
    return text if not text or text[-1] in ".!?:" else text + "."


def day_label(day: date, with_year: bool = False) -> str:
    """"19 February" (or "19 February 2026")."""
    text = f"{day.day} {day.strftime('%B')}"
    return f"{text} {day.year}" if with_year else text


def day_words(value: object, with_year: bool = False) -> str:
    """ISO date (or datetime, or date) -> "19 February"; other text is returned unchanged."""
    if isinstance(value, date):
        return day_label(value if type(value) is date else value.date(), with_year)  # type: ignore[attr-defined]
    text = str(value)
    try:
        parsed = date.fromisoformat(text[:10])
    except ValueError:
        return text
    return day_label(parsed, with_year)


_SMALL = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]


def count_words(count: int, unit: str) -> str:
    """"five weeks" (numbers up to twelve in words)."""
    number = _SMALL[count] if 0 <= count < len(_SMALL) else f"{count:,}"
    return f"{number} {unit}{'' if count == 1 else 's'}"


def period_words(days: int) -> str:
    """How long a period is, the way people say it: "37 days" -> "five weeks"."""
    if days == 7:
        return "week"  # "Compared with the previous week" (weekly digests)
    if days < 14:
        return "day" if days == 1 else count_words(days, "day")
    if days < 62:
        weeks = round(days / 7)
        return "week" if weeks == 1 else count_words(weeks, "week")
    months = round(days / 30.44)
    if months < 18:
        return count_words(months, "month")
    return count_words(round(days / 365.25), "year")
