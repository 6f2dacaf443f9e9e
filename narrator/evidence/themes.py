"""Grouping related commits into themes ("filter lists: malware, policy, audit — 20 commits").

One job: ``themes(evidences)`` links commits that share enough specific vocabulary and returns the groups of
at least ``min_size`` commits, largest first.

Each commit contributes *theme words*: the significant words of its subject (``match.significant_words``),
its Conventional Commits scope or ``Topic:`` prefix (counted twice: a prefix such as ``FilterLists:`` is the
author's own grouping), the changelog sections and kinds of its entries, and the shipped-source files it
touches. A word is *specific* when it occurs in at least 2 commits and in at most ``max_share`` (25%, at least
3 commits, at most 50) of them, so words common to the whole window ("composer", "src/Composer/Factory.php" in half the
commits) never link things. Two commits are related when they share at least one specific subject word and
their shared vocabulary weighs at least 4: a subject word in at most 10% of the commits (or 3) weighs 2, a more common
one 1, a file or a changelog section 1; a shared prefix links on its own. Links are taken strongest first; two groups merge only when at least half of
the smaller group is linked to the larger one (so one shared word cannot chain unrelated work together). A
group is a theme when it holds ``min_size`` (3) commits.
The theme's name is its prefix and most frequent specific words (three at most, ties alphabetical), written as
they most often appear.
"""

from __future__ import annotations

import math
import re
import sys
from array import array
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

from narrator.evidence.commit import CommitEvidence
from narrator.evidence.importance import score
from narrator.evidence.match import pr_title, significant_words, stem
from narrator.evidence.sharing import shared

__all__ = ["Theme", "ThemeInput", "ThemeWords", "theme_groups", "theme_input", "themes"]


@dataclass(frozen=True, slots=True)
class Theme:
    name: str  # "FilterList, malware, policy"
    words: tuple[str, ...]  # the shared words as they are written most often
    shas: tuple[str, ...]  # oldest-first as given
    section: str | None  # the changelog section most of its entries sit under, if any
    score: float  # the best member's importance plus min(10, 3 * log2(size))

    @property
    def size(self) -> int:
        return len(self.shas)


_MAX_PAIRS_PER_WORD = 50  # words in more commits than this never link pairs (bounded, quadratic work)
_PREFIX = re.compile(r"^(?:(?P<cc>[a-z]+)\((?P<scope>[^)]{1,40})\)!?|(?P<topic>[A-Za-z][\w./-]{1,30})):\s")
_GENERIC_TOPICS = frozenset({"fix", "feat", "feature", "chore", "docs", "doc", "test", "tests", "ci", "build",
                             "refactor", "perf", "style", "revert", "deps", "release", "wip", "merge"})


_SURFACE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]+")


def _surface(words: frozenset[str], text: str, seen: list[str]) -> None:
    for word in _SURFACE_WORD.findall(text):
        root = stem(word.lower())
        if root in words:
            seen += (root, _intern(word))


_intern = sys.intern
_NO_PREFIX: frozenset[str] = frozenset()
_PREFIXES: dict[frozenset[str], frozenset[str]] = {}  # a window's few prefixes, each one frozenset (216 bytes)
_NO_FORMS: tuple[str, ...] = ()

ThemeInput = tuple[tuple[str, ...], frozenset[str], tuple[str, ...]]


def theme_input(e: CommitEvidence) -> ThemeInput:
    """What one commit brings to ``themes``: (its ordinary theme words, the prefix words that count double, the
    surface forms its title writes them in: root, word, root, word... in order; one flat tuple of shared strings,
    as a long window holds one per commit). Pure: a report may compute it for a commit as soon as the commit is
    judged (``app/evidence.JudgedAhead``)."""
    title = pr_title(e.subject or "", e.body or "")
    words = set(map(_intern, significant_words(title)))  # one object per word across a long window
    prefix: frozenset[str] = _NO_PREFIX
    forms: list[str] = []
    m = _PREFIX.match(e.subject or "")
    if m:
        topic = m.group("scope") or m.group("topic") or ""
        if topic.lower() not in _GENERIC_TOPICS:
            prefix = shared(_PREFIXES, frozenset({_intern("prefix:" + stem(topic.lower()))}))  # one per prefix
            forms += (next(iter(prefix)), _intern(topic.rstrip("s")))
    if words:
        _surface(frozenset(words), title, forms)
    for entry in e.entries:
        if entry.section:
            words.add(_intern("section:" + entry.section.lower()))
    for path in e.source_paths:
        words.add(_intern("path:" + path))
    # kept as tuples (a set per commit is five times the size; only membership and counts are asked of them)
    return tuple(words), prefix, tuple(forms) if forms else _NO_FORMS


class ThemeWords:
    """The ``theme_input`` of each commit of a window, in order, compact: every distinct word is stored once and
    numbered, and each commit's words (its prefix words after them) and surface forms are runs of those numbers
    in two arrays: about 40 bytes a commit, where three tuples took 200."""

    def __init__(self) -> None:
        self._number: dict[str, int] = {}
        self.vocabulary: list[str] = []
        self._words = array("I")
        self._word_ends = array("I")
        self._forms = array("I")
        self._form_ends = array("I")

    def _numbers(self, words: Iterable[str]) -> list[int]:
        number, vocabulary = self._number, self.vocabulary
        out = []
        for word in words:
            n = number.get(word)
            if n is None:
                n = number[word] = len(vocabulary)
                vocabulary.append(word)
            out.append(n)
        return out

    def append(self, made: ThemeInput) -> None:
        words, prefix, forms = made
        self._words.extend(self._numbers(words + tuple(prefix) if prefix else words))
        self._word_ends.append(len(self._words))
        if forms:
            self._forms.extend(self._numbers(forms))
        self._form_ends.append(len(self._forms))

    def __len__(self) -> int:
        return len(self._word_ends)

    def words(self, k: int) -> Sequence[int]:
        """Commit ``k``'s word numbers, its prefix words last."""
        return self._words[self._word_ends[k - 1] if k else 0:self._word_ends[k]]

    def forms(self, k: int) -> Sequence[int]:
        """Commit ``k``'s surface forms: root, word, root, word... as numbers."""
        return self._forms[self._form_ends[k - 1] if k else 0:self._form_ends[k]]


class _Runs(Sequence[Sequence[int]]):
    """Each commit's word numbers, read from ``ThemeWords`` on use (no list of them is made)."""

    def __init__(self, words: ThemeWords, n: int) -> None:
        self._words, self._n = words, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, k):  # type: ignore[override]
        return self._words.words(k)

    def __iter__(self) -> Iterator[Sequence[int]]:
        return map(self._words.words, range(self._n))


def _half_linked(small: set[int], large: set[int], neighbours: dict[int, set[int]]) -> bool:
    """Whether at least half of ``small`` (rounded up) has a neighbour in ``large``; stops as soon as it is known."""
    need = (len(small) + 1) // 2
    left = len(small)
    empty: set[int] = set()
    for u in small:
        left -= 1
        if not neighbours.get(u, empty).isdisjoint(large):
            need -= 1
            if need <= 0:
                return True
        elif need > left:
            return False
    return need <= 0


def themes(evidences: Sequence[CommitEvidence], min_size: int = 3, max_share: float = 0.25,
           inputs: Mapping[str, ThemeInput] | None = None, scores: Mapping[str, float] | None = None
           ) -> tuple[Theme, ...]:
    """Groups of related commits (see the module docstring), largest first, then by best score. ``inputs``:
    ``theme_input`` of some of these very evidences, by sha, computed earlier; ``scores``: ``score(e).value`` of
    every one of them, by sha, when the caller has it already (judging does)."""
    if len(evidences) < min_size:
        return ()
    known = inputs or {}
    sections = {k: found for k, e in enumerate(evidences) if (found := tuple(x.section for x in e.entries
                                                                             if x.section))}
    words = ThemeWords()
    for e in evidences:
        words.append(known.get(e.sha) or theme_input(e))
    return theme_groups([e.sha for e in evidences], words,
                        [scores[e.sha] if scores is not None else score(e).value for e in evidences], sections,
                        min_size, max_share)


def theme_groups(shas: Sequence[str], words: ThemeWords, scores: Sequence[float],
                 sections: Mapping[int, Sequence[str]], min_size: int = 3, max_share: float = 0.25
                 ) -> tuple[Theme, ...]:
    """``themes`` from what each commit brings, in the window's order and aligned: its sha, its ``theme_input``
    (in ``words``), its importance, and (``sections``, by index, only for commits that have any) the changelog
    sections of its entries. A long window's judging hands these over instead of every commit's evidence. Words
    are compared by their numbers; their text decides only ties and names."""
    n = len(shas)
    if n < min_size:
        return ()
    vocabulary = words.vocabulary
    per_commit = _Runs(words, n)  # each commit's theme words, its prefix words last (read on use)
    df: Counter = Counter()
    for numbers in per_commit:
        df.update(numbers)
    is_prefix = {w: vocabulary[w].startswith("prefix:") for w in df}
    limit = max(3, min(int(max_share * n), 200))  # bounded: pairs per word are counted
    specific = {w for w, c in df.items() if 2 <= c <= limit or (is_prefix[w] and c >= 2)}
    del df
    index: dict[int, list[int]] = {}
    for k, numbers in enumerate(per_commit):
        for w in numbers:
            if w in specific:
                members = index.get(w)
                if members is None:
                    members = index[w] = []
                members.append(k)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    rare = max(3, int(0.1 * n))
    linking: dict[int, tuple[list[int], int, bool]] = {}  # word -> (its commits, weight, a subject word?)
    prefixed = False
    for w, members in index.items():
        if is_prefix[w]:
            for k in members[1:]:  # the author's own "Topic:" grouping links directly
                parent[find(k)] = find(members[0])
            prefixed = True
            continue
        if len(members) > _MAX_PAIRS_PER_WORD:
            continue  # a word this common in a big window is not specific enough to link two commits
        is_word = not vocabulary[w].startswith(("path:", "section:"))
        linking[w] = (members, (2 if len(members) <= rare else 1) if is_word else 1, is_word)
    edges = _links(per_commit, linking)
    neighbours: dict[int, set[int]] = {}
    for _, i, j in edges:
        neighbours.setdefault(i, set()).add(j)
        neighbours.setdefault(j, set()).add(i)
    # the groups so far (the prefixes'); a commit in none is a group of its own, made when an edge reaches it
    members_of: dict[int, set[int]] = {}
    if prefixed:
        for k in range(n):
            if parent[k] != k:
                root = find(k)
                group = members_of.get(root)
                if group is None:
                    group = members_of[root] = {root}
                group.add(k)
    refused: set[tuple[int, int, int, int]] = set()  # (small, large, their sizes) found not half linked
    for _, i, j in edges:
        a, b = find(i), find(j)
        if a == b:
            continue
        group_a = members_of.get(a) or {a}
        group_b = members_of.get(b) or {b}
        small, large = (a, b) if len(group_a) <= len(group_b) else (b, a)
        small_group, large_group = (group_a, group_b) if small == a else (group_b, group_a)
        # two groups merge only when enough of the smaller one is linked to the larger (no chaining through
        # one shared word): half of its members, rounded up. Groups only grow: two roots and their sizes name
        # the same two groups until one of them takes another in.
        if len(small_group) > 1:  # a single commit is linked by this very edge
            key = (small, large, len(small_group), len(large_group))
            if key in refused:
                continue
            if not _half_linked(small_group, large_group, neighbours):
                refused.add(key)
                continue
        parent[small] = large
        members_of.pop(small, None)
        large_group |= small_group
        members_of[large] = large_group
    del refused, neighbours, edges
    if min_size <= 1:  # every commit of no group is a theme of its own
        groups = [[k] for k in range(n) if k not in members_of and find(k) == k] + [
            sorted(g) for g in members_of.values()]
    else:
        groups = [sorted(g) for g in members_of.values() if len(g) >= min_size]
    groups.sort(key=lambda members: members[0])  # in the order of their first commit
    named: list[tuple[list[int], list[str]]] = []
    for members in groups:  # each of at least ``min_size`` commits
        counts: Counter = Counter()
        for k in members:
            counts.update(vocabulary[w] for w in per_commit[k] if w in specific)
        ranked = sorted(counts, key=lambda w: (not w.startswith("prefix:"), -counts[w], w))  # deterministic
        top = [w for w in ranked if counts[w] >= 2 and not w.startswith(("path:", "section:"))][:3]
        named.append((members, top or ranked[:3]))
    del per_commit
    surfaces = _surfaces(words, n, {w for _, top in named for w in top})
    out = []
    for members, top in named:
        names = []
        for w in top:
            if w.startswith("prefix:"):
                form = surfaces.get(w, Counter()).most_common(1)
                names.append(form[0][0] if form else w[7:])
            elif w.startswith(("path:", "section:")):
                names.append(w.split(":", 1)[1])
            else:
                form = surfaces.get(w, Counter()).most_common(1)
                names.append(form[0][0] if form else w)
        found = Counter(section for k in members for section in sections.get(k, ()))
        best = max(scores[k] for k in members)
        out.append(Theme(name=", ".join(dict.fromkeys(names)), words=tuple(dict.fromkeys(names)),
                         shas=tuple(shas[k] for k in members),
                         section=found.most_common(1)[0][0] if found else None,
                         score=round(best + min(10.0, 3 * math.log2(len(members))), 2)))
    out.sort(key=lambda t: (-t.size, -t.score, t.name))
    return tuple(out)


def _links(per_commit: Sequence[Sequence[int]], linking: Mapping[int, tuple[list[int], int, bool]]
           ) -> list[tuple[int, int, int]]:
    """The links between commits, strongest first: (weight, i, j) for i < j sharing a weight of at least 4 with
    a subject word among it. The pairs are counted one commit at a time, with the commits after it: a long window
    shares words in millions of pairs, and only the links are kept."""
    edges: list[tuple[int, int, int]] = []
    for i, words in enumerate(per_commit):
        common: dict[int, int] = {}  # the weight shared with each later commit
        worded: set[int] = set()
        for w in words:
            link = linking.get(w)
            if link is None:
                continue
            members, weight, is_word = link
            for j in members[bisect_right(members, i):]:  # members are in commit order
                common[j] = common.get(j, 0) + weight
                if is_word:
                    worded.add(j)
        edges.extend((count, i, j) for j, count in common.items() if count >= 4 and j in worded)
    edges.sort(reverse=True)
    return edges


def _surfaces(words: ThemeWords, n: int, roots: set[str]) -> dict[str, Counter]:
    """How often each written form of these roots appears in the titles (``ThemeWords.forms``: root, word, root,
    word... per commit), counted in the order of the commits: ties between forms go to the first seen."""
    vocabulary = words.vocabulary
    wanted = {k for k, w in enumerate(vocabulary) if w in roots} if roots else set()
    surfaces: dict[str, Counter] = {}
    if not wanted:
        return surfaces
    for k in range(n):
        forms = words.forms(k)
        for at in range(0, len(forms), 2):
            if forms[at] in wanted:
                root = vocabulary[forms[at]]
                counter = surfaces.get(root)
                if counter is None:
                    counter = surfaces[root] = Counter()
                word = vocabulary[forms[at + 1]]
                counter[word] = counter.get(word, 0) + 1
    return surfaces
