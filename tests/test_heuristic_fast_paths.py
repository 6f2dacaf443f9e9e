"""The heuristic engine and ``strip_credits`` skip patterns on texts that cannot match them: their cleaned
subjects, plain words and entries must be those of trying every pattern on every text (random texts built of
the pieces the patterns look for)."""

from __future__ import annotations

import random
import re

from narrator.engines import heuristic as H
from narrator.evidence.clean import GRAMMAR_WORDS

_PIECES = [" ", "  ", "deps", "DEPS", "dev-deps", "repo", "Config", "docs", "PR", "PRs", "prs", "refactoring", "impl",
           "msg", "func", "w/", "w/o", "W/", "`", "``", "and", "x", "(", ")", "[", "]", "](", "https://a.b", "#12",
           "GH-3", "fixes", "Closes", ",", ".", ";", ":", "-", "skip ci", "ABC-12", "\u017f", "\u0131mpl", "\u212a",
           "docs/results.md", "--no-deps", "\t", "\n", "Fix"]


def _plain_everywhere(text: str) -> str:
    quote = any(m.group(1).lower() in GRAMMAR_WORDS for m in H._BACKTICKS.finditer(text))
    text = H._BACKTICKS.sub(lambda m: f"\u201c{m.group(1)}\u201d" if quote and re.fullmatch(r"[A-Za-z_]\w*", m.group(1))
                            else m.group(1), text)
    out = []
    for chunk in text.split(" "):
        if H._PLAIN_WORD.match(chunk):
            for pattern, replacement in H._JARGON:
                chunk = pattern.sub(replacement, chunk)
        out.append(chunk)
    return " ".join(out)


def _clean_everywhere(text: str) -> str:
    text = H._MD_LINK.sub(r"\1", text)
    text = H._TICKET_PREFIX.sub("", text)
    previous = None
    while previous != text:
        previous = text
        text = H._TRAILING_REFS.sub("", text)
    text = H._FIXES_SENTENCE.sub("", text)
    text = text.strip().rstrip(".;:,").strip()
    return " ".join(text.split())


def test_the_same_as_every_pattern_everywhere():
    rng = random.Random(8)
    for _ in range(20000):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 12)))
        assert H._plain(text) == _plain_everywhere(text), text
        assert H.clean_subject(text) == _clean_everywhere(text), text


def _strip_everywhere(text: str) -> str:
    from narrator.evidence import clean as C

    text = text.strip()
    if "#" not in text and "@" not in text and "GH-" not in text and "!" not in text and "GHSA" not in text \
            and "CVE" not in text and "://" not in text:
        return text
    previous = None
    while previous != text:
        previous = text
        text = C._LEADING_CREDITS.sub("", text)
        for pattern in C._TRAILING_CREDITS:
            stripped = pattern.sub("", text)
            if stripped != text and len(stripped.strip()) >= 3:
                text = stripped.rstrip()
    return text


def test_credits_stripped_as_by_every_pattern():
    from narrator.evidence.clean import strip_credits

    pieces = [" ", "Fix the thing", "#12", "GH-3", "gh-4", "!5", "@user", "by", "thanks to", "in", "https://x.y/pull/7",
              "(", ")", "[", "]", ",", "and", "&", ".", "-", "\u2013", "fixes", "Closes", "owner/repo#8", "GHSA-ab-cd",
              "CVE-2024-1", "props to", "issue", "pr", "see"]
    rng = random.Random(11)
    for _ in range(20000):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        assert strip_credits(text) == _strip_everywhere(text), text
