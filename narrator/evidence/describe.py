"""The best human-written text for a commit, cleaned for a reader.

One job: ``describe(subject, body, entries)`` picks, in this order, the first text that exists:

1. a changelog entry (added in the commit itself or matched from the release's changelog commit);
2. a news fragment;
3. release notes of an annotated tag;
4. the pull request title (a merge: the first body line of ``Merge pull request #1 from x/y``; a squash:
   the subject without its ``(#123)``);
5. the commit subject, plus the first sentence of the body when the subject is terse (fewer than four
   significant words, e.g. "fix typing", "Update foo.py").

The text is cleaned of markup by ``clean.clean_markup`` (``should_ignore_error`` in backticks -> the name
itself) and loses a Conventional Commits prefix and trailing ``(#123)``; it is never reworded, and every token
stays byte-identical (case included: "redirect defaults to 303" stays lower case, ``redirect`` may be a name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from narrator.evidence.changelog import ChangelogEntry
from narrator.evidence.clean import clean_markup, first_sentence, strip_credits
from narrator.evidence.match import pr_title, significant_words
from narrator.evidence.refs import find_refs

__all__ = ["Description", "describe"]

_SOURCE_ORDER = {"changelog": 0, "fragment": 1, "tag": 2}
_TRAILER = re.compile(r"^[A-Z][\w-]+(?:-[\w-]+)*:\s")
_BODY_NOISE = re.compile(r"^(?:\*|-|\d+\.)\s|^(?:Signed-off-by|Co-authored-by|Reviewed-by|Change-Id|cherry picked)\b|"
                         r"^(?:This reverts commit|Merge branch|Conflicts:)", re.I)

_MERGED_PR = re.compile(r"^Merge pull request #\d+", re.I)
_SQUASHED = re.compile(r"\((?:#|GH-|!)\d+\)\s*$")


@dataclass(frozen=True, slots=True)
class Description:
    text: str
    source: str  # changelog, fragment, tag, pr_title, subject
    refs: tuple[str, ...] = ()


def _sentence(text: str) -> str:
    text = text.strip()
    if text and text[-1] not in ".!?:;)\"'\u2026":
        text += "."
    return text


def _first_body_sentence(body: str) -> str:
    paragraph: list[str] = []
    for line in body.split("\n"):
        stripped = line.strip()
        if not stripped:
            if paragraph:
                break
            continue
        if _TRAILER.match(stripped) or _BODY_NOISE.match(stripped) or stripped.startswith(("```", ">", "|", "#")):
            if paragraph:
                break
            continue
        paragraph.append(stripped)
    if not paragraph:
        return ""
    return first_sentence(clean_markup(" ".join(paragraph)))


def _untruncated(text: str, subject: str, body: str) -> str:
    """An entry GitHub cut short ("... implicit 404 handler\u2026") completed from the commit's own title when
    that title starts with it."""
    if not text.endswith(("\u2026", "...")):
        return text
    head = text.rstrip("\u2026.").rstrip()
    title = first_sentence(clean_markup(pr_title(subject, body))).rstrip(".")
    return title if len(head) >= 10 and title.startswith(head) else text


def describe(subject: str, body: str = "", entries: Iterable[ChangelogEntry] = (), *,
             is_merge: bool = False) -> Description:
    """The best text describing a commit (see the module docstring)."""
    ranked = sorted((e for e in entries if e.text), key=lambda e: _SOURCE_ORDER.get(e.source, 3))
    if ranked:
        best_source = ranked[0].source
        chosen: list[ChangelogEntry] = []
        said: list[frozenset[str]] = []
        for e in ranked:  # one entry written twice (History.markdown and docs/history.md) is said once
            words = significant_words(e.text) or frozenset({e.text.lower()})
            if e.source != best_source or len(chosen) == 3 or any(words <= w or w <= words for w in said):
                continue
            said.append(words)
            chosen.append(e)
        texts = [_untruncated(e.text, subject, body) for e in chosen]
        text = texts[0] if len(texts) == 1 else " ".join(_sentence(t) for t in texts)
        refs = tuple(dict.fromkeys(r for e in chosen for r in e.refs))
        return Description(text, best_source if best_source in _SOURCE_ORDER else "changelog", refs)
    subject_refs = find_refs(subject)
    refs = subject_refs + tuple(r for r in find_refs(body) if r not in subject_refs)
    title = pr_title(subject, body)
    merged_pr = bool(_MERGED_PR.match(subject or ""))
    # a squash's subject ends with its number in brackets: the search runs only on one ending with a bracket
    squashed = (subject or "").rstrip().endswith(")") and bool(_SQUASHED.search(subject))
    text = strip_credits(clean_markup(title)) if title else ""
    if merged_pr and text:
        return Description(text, "pr_title", refs)
    if not text:
        text = clean_markup(subject or "")
    if len(significant_words(text)) < 4 and body and not merged_pr:
        extra = _first_body_sentence(body)
        if extra and extra.lower() != text.lower():
            text = f"{_sentence(text)} {extra}"
    return Description(text, "pr_title" if squashed and not is_merge and text else "subject", refs)
