"""The heuristic engine skips patterns on texts that cannot match them: its cleaned subjects and plain words
must be those of trying every pattern on every text (random texts built of the pieces the patterns look for)."""

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
