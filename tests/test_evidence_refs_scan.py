"""``find_refs`` searches its long pattern only near marks: it must find exactly what a scan of the whole text
finds, on any text (random texts built of the pieces references are made of)."""

from __future__ import annotations

import random

from narrator.evidence.refs import _REF, _matches, find_refs

_PIECES = ["#", "!", "/", "-", ":", "{", "}", "`", " ", "\n", ".", ",", "1", "23", "4567", "12345678", "GH", "gh",
           "GHSA", "ghsa", "CVE", "cve", "2024", "pull", "issues", "issue", "pr", "s", "LANG", "A", "x", "foo",
           "/pull/", ":issue:`", "{ghsa}`", ":ghsa:`", "68rp", "wp8r", "4726", ":cve:`", "CVE-", "owner/repo", "&",
           "\t", "_", "\u00e9", "merge_requests", "UTF"]


def _spans(matches):
    return [(m.span(), m.lastgroup, m.groups()) for m in matches]


def test_matches_are_those_of_a_whole_scan():
    rng = random.Random(20260822)
    for _ in range(20000):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 16)))
        assert _spans(_matches(text)) == _spans(_REF.finditer(text)), text


def test_marks_in_long_text():
    body = ("Some words about nothing.\n" * 50 + "Closes gh-123 and #45, see https://github.com/o/r/pull/67.\n"
            "owner/repo#8 LANG-12 GHSA-68rp-wp8r-4726 :issue:`9, 10` !11\n" + "tail text, no marks: here\n" * 20)
    assert _spans(_matches(body)) == _spans(_REF.finditer(body))
    assert find_refs(body) == ("#123", "#45", "#67", "owner/repo#8", "LANG-12", "GHSA-68rp-wp8r-4726", "#9", "#10",
                               "!11")
