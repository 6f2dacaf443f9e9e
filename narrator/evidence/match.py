"""Giving changelog entries to the commits they describe.

One job: a release's changelog commit ("Update changelog", "release version 3.1.3") adds entries for work
done in other commits; ``match_entries(entries, commits)`` finds those commits.

1. **By number.** An entry's refs (``#123``, ``:pr:`123```, ``:issue:`123```, ``GH-123``) are looked up among
   the numbers the commits carry: the pull request a commit says it is (``Subject (#123)``, ``Merge pull
   request #123 from``, GitLab ``See merge request g/p!123``), then the issues its subject or body cites
   (``fixes #123``). Every commit carrying the number matches (a squash commit and its merge both do).
   When an entry's credits ("by @x in .../pull/3016", a trailing "(#123)") name a commit's own pull request,
   a number in its prose is what it talks about, not what it is: "revert PR #3009 changes" is not #3009.
2. **By text**, for entries with no ref that matched, unless every number the entry cites is older than every
   pull request of the window by more than twice the window's spread of numbers (at least 100: a pull request
   merged late keeps its early number). A release's notes listing last year's pull requests do not describe
   this window's commits; a commit that fixes an old issue says so and matches by number. The commit's subject
   (the pull request title for a merge; its first sentence when it goes on) and the entry are reduced to
   significant words (lower case, a light
   suffix stemmer, stop words, generic verbs such as "fix"/"add"/"update"/"bump" and bare versions such as
   "v9" dropped). The score is the share of the subject's words the entry contains, each word weighted by its
   rarity among the commits given (``log(1 + N / df)``), so "malware" counts more than "composer". A commit
   matches when

   - at least ``MIN_SHARED`` (2) significant words are shared, and
   - the score is at least ``TEXT_THRESHOLD`` (0.6), and
   - it beats every other commit by ``MARGIN`` (0.1); commits tied with the same subject (a commit and the
     merge of its pull request) all match.

   0.6 was chosen on real histories: "Enabled blocking of malware packages at `install` time by default" vs
   "FilterList: block malware packages during composer install (#12826)" scores ~0.75, while unrelated
   subjects sharing one or two common words stay below 0.4.

Commits are anything with ``sha``, ``subject`` and ``body`` attributes (``CommitFacts`` fits).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Iterable, Mapping, Protocol, Sequence

from narrator.evidence.changelog import ChangelogEntry
from narrator.evidence.clean import first_sentence
from narrator.evidence.refs import find_refs, pr_number_of_subject, ref_numbers

__all__ = ["EntryMatch", "match_entries", "significant_words", "stem", "pr_title", "TEXT_THRESHOLD", "MIN_SHARED",
           "MARGIN"]

TEXT_THRESHOLD = 0.6
MIN_SHARED = 2
MARGIN = 0.1


class CommitLike(Protocol):
    sha: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class EntryMatch:
    """An entry given to a commit: ``method`` is "ref" (``ref`` says which) or "text" (``score`` 0-1)."""

    entry: ChangelogEntry
    sha: str
    method: str
    score: float
    ref: str | None = None


_STOP = frozenset("""
a an the and or but if then else of to in on at by for from with without into onto over under via as is are was
were be been being it its this that these those there here when where which who whom whose what why how not no
nor so than too very can could should would will shall may might must do does did done has have had having we
you they i he she them our your their us me my also only just now still even more most less least all any each
every some such other same own both few many much per within while after before during until since about again
further once upon up down out off just instead via eg ie etc new use used using uses make makes made allow allows
allowed add adds added adding fix fixes fixed fixing update updates updated updating change changes changed
changing improve improves improved support supports supported handle handles handled properly correctly
better issue issues bug bugs problem problems case cases way now default defaults pr merge pull request branch
bump bumps bumped bumping upgrade upgrades upgraded upgrading
""".split())
_VERSION_WORD = re.compile(r"^v\d+$")  # "v9" in "Bump cucumber to v9": a version, not a topic
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]+|\d{2,}")
_TRAILING_PR = re.compile(r"\s*\((?:#|GH-|!)\d+\)\s*$")
_MERGE_PR = re.compile(r"^Merge pull request #\d+ from \S+", re.I)
_CC_PREFIX = re.compile(r"^[a-z]+(?:\([^)]*\))?!?(?:,\s*[A-Z]{2,6})*:\s*", re.I)  # also NumPy's "BUG, TYP: "
_FIXES = re.compile(r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?|refs?|see)\b:?\s+((?:(?:#|GH-)\d+[\s,]*(?:and\s+)?)+)",
                    re.I)


@lru_cache(maxsize=65536)  # a history's vocabulary: every word of every title is stemmed several times
def stem(word: str) -> str:
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 4 and word.endswith("es"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


@lru_cache(maxsize=65536)  # a history's vocabulary, as for stem
def _root(lower: str) -> str | None:
    """The root a lower-cased word adds to ``significant_words``, or None when it carries no meaning."""
    if lower in _STOP:
        return None
    root = stem(lower)
    if root not in _STOP and len(root) > 1 and not _VERSION_WORD.match(root):
        return root
    return None


_NONE: frozenset = frozenset()  # Python makes a new empty frozenset (216 bytes) each time


def _frozen(items: set) -> frozenset:
    """``frozenset(items)``, the one shared empty set when there are none (a window keeps a title's per commit)."""
    return frozenset(items) if items else _NONE


@lru_cache(maxsize=16384)
def significant_words(text: str) -> frozenset[str]:
    """The stemmed, lower-cased words of ``text`` that carry meaning (see the module docstring). Remembered for
    recent texts: a window's subjects are asked for again by every release's matching."""
    # An ASCII text lowered whole holds the same words lowered (a few other characters lower to ASCII letters)
    words = _WORD.findall(text.lower()) if text.isascii() else [w.lower() for w in _WORD.findall(text)]
    out = set()
    for word in words:
        root = _root(word)
        if root is not None:
            out.add(root)
    return _frozen(out)


def pr_title(subject: str, body: str = "") -> str:
    """What a commit says it does: the pull request title for ``Merge pull request #1 from x`` (its first body
    line), the subject without a trailing ``(#123)`` or Conventional Commits prefix otherwise."""
    if _MERGE_PR.match(subject):
        for line in body.split("\n"):
            if line.strip():
                return _CC_PREFIX.sub("", line.strip())
        return ""
    return _CC_PREFIX.sub("", _TRAILING_PR.sub("", subject.strip()))


def _numbers(commit: CommitLike) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(the pull request the commit is, the issues it cites)."""
    return _numbers_of(commit.subject or "", getattr(commit, "body", "") or "")


@lru_cache(maxsize=16384)
def _numbers_of(subject: str, body: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(the pull request a commit is, the issues it cites), each sorted: tuples, as matching only goes through
    them (a one-number frozenset is 216 bytes, a tuple 48; a window keeps two per commit)."""
    own = set()
    pr = pr_number_of_subject(subject, body)
    if pr is not None:
        own.add(pr)
    cited = set(ref_numbers(find_refs(subject))) - own
    if "#" in body or "gh-" in body.lower():  # what every cited number is written with (g and h fold only so)
        for m in _FIXES.finditer(body):
            cited.update(int(n) for n in re.findall(r"\d+", m.group(1)))
    return tuple(sorted(own)), tuple(sorted(cited - own))


def _in_two(postings: list[set[int]]) -> set[int]:
    """The commits in at least two (``MIN_SHARED``) of these sets: set operations at C speed, where counting every
    commit of a common word's list was a Python loop. Smallest first: an intersection walks the smaller set, and
    the largest is never added to what was seen."""
    postings = sorted(postings, key=len)
    seen: set[int] = set()
    twice: set[int] = set()
    last = len(postings) - 1
    for at, members in enumerate(postings):
        twice |= seen & members
        if at < last:
            seen |= members
    return twice


MatchKey = tuple[tuple[int, ...], tuple[int, ...], frozenset[str]]


def match_key(commit: CommitLike) -> MatchKey:
    """What matching needs of one commit: (the pull request it is, the issues it cites, its title's significant
    words). Pure: a report may work it out as soon as it has read the commit (``app/evidence.JudgedAhead``)."""
    own, cited = _numbers(commit)
    # a subject that goes on after its first sentence ("... handlers. This will fix: CORS ...") is titled by it
    return own, cited, significant_words(first_sentence(pr_title(commit.subject or "",
                                                                 getattr(commit, "body", "") or "")))


def match_entries(entries: Iterable[ChangelogEntry], commits: Sequence[CommitLike],
                  keys: Mapping[str, MatchKey] | None = None) -> tuple[EntryMatch, ...]:
    """Each entry's commits, by number first and by text second (see the module docstring). ``keys``:
    ``match_key`` of some of these commits, by sha, worked out earlier."""
    entries = list(entries)
    if not entries or not commits:
        return ()
    own_index: dict[int, list[str]] = {}
    cited_index: dict[int, list[str]] = {}
    words: list[frozenset[str]] = []  # each commit's title words (two titles with the same words are one title)
    known = keys or {}
    for commit in commits:
        own, cited, title_words = known.get(commit.sha) or match_key(commit)
        for n in own:
            own_index.setdefault(n, []).append(commit.sha)
        for n in cited:
            cited_index.setdefault(n, []).append(commit.sha)
        words.append(title_words)
    total = len(commits)
    idf = {w: math.log(1 + total / n) for w, n in Counter(chain.from_iterable(words)).items()}
    # A few numbers say little about the window; a pull request merged late keeps its early number.
    oldest_pr = min(own_index) - max(100, 2 * (max(own_index) - min(own_index))) if len(own_index) >= 3 else None
    postings: dict[str, set[int]] = {}  # word -> the commits whose title has it (an entry meets only those)
    for k, ws in enumerate(words):
        for w in ws:
            members = postings.get(w)
            if members is None:
                members = postings[w] = set()
            members.add(k)
    weight_of = idf.__getitem__
    weights = [sum(map(weight_of, ws)) for ws in words]  # each title's weight, summed once

    out: list[EntryMatch] = []
    for entry in entries:
        found = False
        numbered = [r for r in entry.refs if r[:1] in "#!" and r[1:].isdigit()]
        owned = [r for r in numbered if int(r[1:]) in own_index]  # refs to the pull request of a commit given
        if owned:
            mentioned = set(find_refs(entry.text))  # numbers left in the prose once the credits are stripped
            credits = [r for r in owned if r not in mentioned]
            if credits and any(r in mentioned for r in owned):
                numbered = credits  # the entry's own pull request, not the one its prose talks about
        for ref in numbered:
            n = int(ref[1:])
            shas = own_index.get(n) or cited_index.get(n) or []
            for sha in shas:
                out.append(EntryMatch(entry, sha, "ref", 1.0, ref))
                found = True
        if found:
            continue
        numbers = [int(r[1:]) for r in entry.refs if r[:1] in "#!" and r[1:].isdigit()]
        if numbers and oldest_pr is not None and max(numbers) < oldest_pr:
            continue  # the entry names older work
        entry_words = significant_words(entry.text)
        if len(entry_words) < MIN_SHARED:
            continue
        # the same commits, scores and order as comparing with every commit
        scored = [(sum(map(weight_of, words[k] & entry_words)) / weights[k] if weights[k] else 0.0, k)
                  for k in _in_two([postings[w] for w in entry_words if w in postings])]
        if not scored:
            continue
        scored.sort(reverse=True)
        best, k = scored[0]
        if best < TEXT_THRESHOLD:
            continue
        winners = [k]
        for score, other in scored[1:]:
            if words[other] == words[k]:
                winners.append(other)  # the same title twice: a commit and the merge of its pull request
            elif best - score < MARGIN:
                winners = []
                break
        for other in winners:
            out.append(EntryMatch(entry, commits[other].sha, "text", round(best, 3)))
    return tuple(out)
