"""The offline default engine: one plain-English sentence per commit, built only from its facts.

It rephrases the commit subject for a non-technical reader (past tense, no Conventional Commits prefix,
no ticket noise, a few jargon words spelled out) and says where the change happened. It never invents:
every file, area, name or number it writes comes from the commit's facts.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Sequence

from narrator import categories
from narrator.engines.base import DiffProvider, EngineStatus, NarrationRequest, ProgressCallback
from narrator.evidence.clean import GRAMMAR_WORDS
from narrator.git.classify import ROOT_AREA
from narrator.git.facts import Classification, CommitFacts, Narration
from narrator.git.walker import NAMED_CHANGE

HEURISTIC_VERSION = "8"

_PAST = {
    "add": "Added", "adds": "Added", "fix": "Fixed", "fixes": "Fixed", "remove": "Removed", "removes": "Removed",
    "delete": "Deleted", "update": "Updated", "updates": "Updated", "improve": "Improved", "improves": "Improved",
    "use": "Switched to using", "uses": "Switched to using", "make": "Made", "makes": "Made", "allow": "Allowed",
    "support": "Added support for", "implement": "Implemented", "introduce": "Introduced", "create": "Created",
    "change": "Changed", "changes": "Changed", "move": "Moved", "rename": "Renamed", "refactor": "Reorganised",
    "refactors": "Reorganised", "clean": "Cleaned", "cleanup": "Cleaned up", "simplify": "Simplified",
    "bump": "Updated", "upgrade": "Upgraded", "downgrade": "Downgraded", "document": "Documented",
    "handle": "Handled", "prevent": "Prevented", "avoid": "Avoided", "enable": "Enabled", "disable": "Disabled",
    "replace": "Replaced", "drop": "Dropped", "deprecate": "Deprecated", "correct": "Corrected",
    "ensure": "Ensured", "optimize": "Optimised", "optimise": "Optimised", "speed": "Sped", "extract": "Extracted",
    "merge": "Merged", "revert": "Reverted", "restore": "Restored", "set": "Set", "show": "Showed",
    "hide": "Hid", "return": "Returned", "raise": "Raised", "check": "Checked", "validate": "Validated",
    "expose": "Exposed", "provide": "Provided", "reduce": "Reduced", "increase": "Increased", "limit": "Limited",
    "split": "Split", "migrate": "Migrated", "convert": "Converted", "release": "Released", "prepare": "Prepared",
    "configure": "Configured", "tweak": "Tweaked", "adjust": "Adjusted", "clarify": "Clarified",
    "explain": "Explained", "reword": "Reworded", "rewrite": "Rewrote", "write": "Wrote", "pin": "Pinned",
    "unpin": "Unpinned", "require": "Required", "skip": "Skipped", "ignore": "Ignored", "include": "Included",
    "exclude": "Excluded", "apply": "Applied", "mark": "Marked", "treat": "Treated", "keep": "Kept",
    "let": "Let", "teach": "Taught", "run": "Ran", "get": "Got", "build": "Built", "bring": "Brought",
    "fetch": "Fetched", "store": "Stored", "cache": "Cached", "log": "Logged", "warn": "Warned",
    "test": "Tested", "format": "Reformatted", "reformat": "Reformatted", "lint": "Tidied", "tidy": "Tidied",
    "rework": "Reworked", "restructure": "Restructured", "reorganize": "Reorganised", "reorganise": "Reorganised",
    "inline": "Inlined", "resolve": "Resolved", "repair": "Repaired", "patch": "Patched", "guard": "Guarded",
    "accept": "Accepted", "reject": "Rejected", "stop": "Stopped", "start": "Started", "switch": "Switched",
    "initial": "Initial", "port": "Ported", "backport": "Backported", "sync": "Synced", "harden": "Hardened",
    "align": "Aligned", "unify": "Unified", "vendor": "Vendored", "parallelize": "Parallelised",
    "generalize": "Generalised", "modernize": "Modernised", "silence": "Silenced", "suppress": "Suppressed",
    "relax": "Relaxed", "tighten": "Tightened", "loosen": "Loosened", "annotate": "Annotated", "type": "Typed",
    "wrap": "Wrapped", "default": "Defaulted", "promote": "Promoted", "register": "Registered",
    "block": "Blocked", "sanitize": "Sanitised", "sanitise": "Sanitised", "escape": "Escaped",
    "unescape": "Unescaped", "serialize": "Serialised", "serialise": "Serialised", "reset": "Reset",
    "preserve": "Preserved", "lock": "Locked", "normalize": "Normalised", "normalise": "Normalised",
    "respect": "Respected", "honor": "Honoured", "honour": "Honoured", "match": "Matched",
    "classify": "Classified", "detect": "Detected", "emit": "Emitted", "propagate": "Propagated",
    "parse": "Parsed", "encode": "Encoded", "decode": "Decoded", "retry": "Retried", "verify": "Verified",
    "trim": "Trimmed", "strip": "Stripped", "catch": "Caught", "recover": "Recovered", "load": "Loaded",
    "save": "Saved", "send": "Sent", "bind": "Bound", "clear": "Cleared", "reuse": "Reused",
    "deduplicate": "Deduplicated", "dedupe": "Deduplicated", "shorten": "Shortened", "speedup": "Sped up",
}
_JARGON = [
    (re.compile(r"\bdeps\b", re.I), "dependencies"),
    (re.compile(r"\bdev-deps\b", re.I), "development dependencies"),
    (re.compile(r"\brepo\b", re.I), "repository"),
    (re.compile(r"\bconfig\b", re.I), "configuration"),
    (re.compile(r"\bdocs\b", re.I), "documentation"),
    (re.compile(r"\bPRs?\b"), "pull request"),
    (re.compile(r"\brefactor(ing)?\b", re.I), "reorganisation"),
    (re.compile(r"\bimpl\b", re.I), "implementation"),
    (re.compile(r"\bmsg\b", re.I), "message"),
    (re.compile(r"\bfunc\b", re.I), "function"),
    (re.compile(r"\bw/o\b", re.I), "without"),
    (re.compile(r"\bw/", re.I), "with "),
]
_ANY_JARGON = re.compile(r"deps|repo|config|docs|prs?\b|refactor|impl|msg|func|w/", re.I)  # a superset, to skip
# The same search on an ASCII text lowered (the same length, the same word boundaries): a pattern that ignores
# case finds no first letter to skip to, this one does, and an ASCII text has no other case to match.
_ANY_JARGON_LOWER = re.compile(_ANY_JARGON.pattern)


def _jargon(text: str) -> Iterator[re.Match[str]]:
    """The matches of ``_ANY_JARGON`` in ``text`` (their positions; their text may be lowered)."""
    if text.isascii():
        return _ANY_JARGON_LOWER.finditer(text.lower())
    return _ANY_JARGON.finditer(text)
_TICKET_PREFIX = re.compile(r"^\s*(\[[^\]]{1,30}\]\s*|[A-Z][A-Z0-9]+-\d+[:\s]+\s*)+")
_TRAILING_REFS = re.compile(r"\s*(\((#\d+|[A-Z][A-Z0-9]+-\d+)(,\s*#\d+)*\)|\[(skip ci|ci skip)\])\s*$", re.I)
_PR_MERGE = re.compile(r"^Merge pull request (#\d+) from (\S+)", re.I)
_MR_MERGE = re.compile(r"^Merge branch '([^']+)' into '([^']+)'", re.I)
_BRANCH_MERGE = re.compile(r"^Merge (?:remote-tracking )?branch '([^']+)'(?: of \S+)?(?: into (\S+))?", re.I)
_TITLED_MERGE = re.compile(r"^(?!Merge )(.+?)\s*\((#\d+)\)\s*$")
_REVERT_OF = re.compile(r'^Revert "(.+)"$', re.I)



def _past_tense(text: str) -> str:
    words = text.split(" ", 1)
    first = words[0]
    lowered = first.lower().rstrip(":,")
    if lowered in _PAST:
        rest = words[1] if len(words) > 1 else ""
        if lowered == "speed" and rest.lower().startswith("up"):
            return ("Sped " + rest).strip()
        return (_PAST[lowered] + (" " + rest if rest else "")).strip()
    if lowered.endswith("ed") or lowered.endswith("ing"):
        return first[:1].upper() + first[1:] + (" " + words[1] if len(words) > 1 else "")
    return text[:1].upper() + text[1:]


def reported_speech(sentence: str) -> str:
    """A model's sentence in the report's voice: a leading imperative or gerund verb of change in the past tense
    ("Remove the missing sentinel ..." -> "Removed ...", "Fixing the typing issue ..." -> "Fixed ..."), as the
    heuristic sentences read; anything else unchanged."""
    first = sentence.split(" ", 1)[0].lower()
    if first.endswith("ing") and len(first) > 5:
        base = first[:-3]
        for root in (base, base + "e", base[:-1] if len(base) > 2 and base[-1] == base[-2] else ""):
            if root and root in _PAST:
                return _PAST[root] + sentence[len(first):]
        return sentence
    return _past_tense(sentence) if first in _PAST else sentence


def _starts_with_verb(text: str) -> bool:
    first = text.split(" ", 1)[0].lower().rstrip(":,")
    return first in _PAST or first.endswith("ed") or first.endswith("ing")


_BACKTICKS = re.compile(r"`{1,2}([^`]+)`{1,2}")


_PLAIN_WORD = re.compile(r"^\(?[A-Za-z][a-z]*(?:/o)?[),.;:!?]*$|^w/$")  # a word of prose, not a name of something


def _plain(text: str) -> str:
    """Jargon words spelled out ("deps" -> "dependencies") in prose words only: a token that names something
    (``docs/results.md``, ``--no-deps``, ``config.audit.*``, ``DEPS_DIR``) is never rewritten inside."""
    # `name` / ``name``: code formatting means nothing to the reader; with a word of grammar among them
    # ("Implement `and` and `or`"), one-word names keep quotes
    if "`" in text:
        quote = any(m.group(1).lower() in GRAMMAR_WORDS for m in _BACKTICKS.finditer(text))
        text = _BACKTICKS.sub(lambda m: f"\u201c{m.group(1)}\u201d" if quote and re.fullmatch(r"[A-Za-z_]\w*", m.group(1))
                              else m.group(1), text)
    # Only the words holding a jargon match can change (no pattern spans a space, and a word holding none of
    # them is left as it is by every pattern): the words of the matches, counted by the spaces before them.
    words = {text.count(" ", 0, m.start()) for m in _jargon(text)}
    if not words:
        return text
    out = text.split(" ")
    for index in sorted(words):
        chunk = out[index]
        if _PLAIN_WORD.match(chunk):
            for pattern, replacement in _JARGON:
                chunk = pattern.sub(replacement, chunk)
            out[index] = chunk
    return " ".join(out)


_MD_LINK = re.compile(r"!?\[([^\]]+)\]\((?:https?://|#|/)[^)\s]*\)")


# "Fixes #739, fixes #997 & fixes #730." in the middle of a long subject: bookkeeping for the tracker
_FIX_WORD = r"(?:fix(?:es|ed)?|close[sd]?|resolve[sd]?)"
_FIXES_SENTENCE = re.compile(r"[.,;]?\s*\b" + _FIX_WORD + r":?\s+(?:#|GH-)\d+(?:(?:\s*,\s*|\s+(?:&|and)\s+)(?:"
                             + _FIX_WORD + r"\s+)?(?:#|GH-)\d+)*(?=[.,;]?(?:\s|$))", re.I)
_LONG = 240  # characters: a subject longer than this is cut to its first sentence
_CLAUSES = 160  # characters: a sentence longer than this that lists clauses ("A: x; y; z") says only the first


def _two_sentences(text: str) -> str:
    """At most the first two sentences of a long one-line message (guice writes whole paragraphs as subjects),
    and only the first when two are still longer than ``_LONG`` (the second often says what the change does:
    "Many of the gems ... are not necessary. Changed the install command to avoid installing them.")."""
    sentences = re.split(r"(?<=[a-z0-9)\]'\"][.!?])\s+(?=[A-Z])", text)
    if len(sentences) <= 1:
        return _first_clause(text)
    kept = " ".join(sentences[:2])
    return _first_clause(sentences[0]) if len(kept) > _LONG else kept


def _first_clause(sentence: str) -> str:
    """A sentence longer than ``_CLAUSES`` cut at its first semicolon outside brackets ("A: x; y; z" -> "A: x"): a
    list of clauses is the developer's changelog, the first one says what the change is (a highlight is read at a
    glance)."""
    if len(sentence) <= _CLAUSES:
        return sentence
    depth = 0
    for i, ch in enumerate(sentence):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == ";" and depth <= 0 and i >= 40:
            return sentence[:i].rstrip(" ,:")
    return sentence


def clean_subject(subject: str, classification: Classification | None = None) -> str:
    """The commit subject as a sentence fragment: no Conventional Commits prefix, tickets, [skip ci] or link
    targets (``[Migrate](https://...)`` reads "Migrate")."""
    text = classification.description if classification and classification.description else subject
    # each pattern is tried only on a text holding what its matches must hold: most subjects hold none
    if "](" in text:
        text = _MD_LINK.sub(r"\1", text)
    text = _TICKET_PREFIX.sub("", text)
    previous = None
    while previous != text:
        previous = text
        if text.rstrip().endswith((")", "]")):
            text = _TRAILING_REFS.sub("", text)
    if "#" in text or "-" in text:
        text = _FIXES_SENTENCE.sub("", text)
    text = text.strip().rstrip(".;:,").strip()
    return " ".join(text.split())


_AREA_PHRASE = {"documentation": "the documentation", "tests": "the tests",
                "build, tooling and dependencies": "the build and tooling files"}


def _area_phrase(area: str) -> str:
    if area.endswith(" core"):
        return f"the {area}"  # "the flask core": the project's own code
    return _AREA_PHRASE.get(area, area)


_SUPPORT = frozenset({"documentation", "tests", "build, tooling and dependencies"})


_SUPPORT_CATEGORIES = frozenset({"Documentation", "Tests", "Build & CI", "Dependencies"})


def _where(areas: Sequence[str], category: str = "") -> str:
    """Where the change happened, in at most two areas: the project's code when it was touched (its tests and
    docs go with it and need no mention), else the tests, documentation or tooling; a documentation, test or
    build commit names its own areas first, as they come."""
    if not areas:
        return ""
    code = [] if category in _SUPPORT_CATEGORIES else [a for a in areas if a not in _SUPPORT and a != ROOT_AREA]
    named = [_area_phrase(a) for a in (code or [a for a in areas if a != ROOT_AREA])][:2]
    if not named:
        return "in the project's top-level files"
    if len(named) == 1:
        return f"in {named[0]}"
    return f"in {named[0]} and {named[1]}"


def _size(commit: CommitFacts) -> str:
    files = len(commit.files)
    if files == 0:
        return "no file changes"
    return f"{files} file{'s' if files != 1 else ''}"


def describe_sentence(description: str) -> str:
    """A human-written description (a changelog entry) as the report's sentence: kept word for word, only its
    first letter raised when it starts a plain word, and a full stop added."""
    text = " ".join(description.split())
    if not text:
        return ""
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)
    if len(sentences) > 2:  # the first two say what changed; the rest is detail for the changelog reader
        text = " ".join(sentences[:2])
    first = text.split(" ", 1)[0]
    if re.fullmatch(r"[a-z]+(?:'[a-z]+)?", first):  # "don't double-unescape ...": a plain word, not a name
        text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "\u2026")) else text + "."


def _merge_sentence(commit: CommitFacts, brought_in: str = "") -> str:
    """What a merge brought in: the pull request and its title, or the branch. ``brought_in`` (the subjects of
    the branch's own commits, one per line, from the report's judgment: at most three) names the work where git
    gives no title ("Merge commit from fork")."""
    subject = commit.subject
    work = [f"\u201c{clean_subject(s)}\u201d" for s in brought_in.splitlines() if clean_subject(s)]
    listed = (", ".join(work[:-1]) + " and " + work[-1]) if len(work) > 1 else (work[0] if work else "")
    pr = _PR_MERGE.match(subject)
    title = commit.body.strip().splitlines()[0].strip() if commit.body.strip() else ""
    if pr:
        what = f"Merged contribution {pr.group(1)}"
        if title:
            what += f" (\u201c{clean_subject(title)}\u201d)"
        return f"{what}, from {pr.group(2)}."
    branch = _MR_MERGE.match(subject) or _BRANCH_MERGE.match(subject)
    if branch:
        if listed:
            return f"Merged the branch \u201c{branch.group(1)}\u201d, with {listed}."
        if not commit.files_known:  # its files were not read: the commits it brought in are in the report
            return f"Merged the branch \u201c{branch.group(1)}\u201d."
        return f"Merged the branch \u201c{branch.group(1)}\u201d ({_size(commit)} changed)."
    titled = _TITLED_MERGE.match(subject)
    if titled:  # a pull request merged with its own title: "fix X (#123)"
        return f"Merged contribution {titled.group(2)}: \u201c{clean_subject(titled.group(1))}\u201d."
    if listed:
        return f"Merged work from another branch: {listed}."
    if not commit.files_known:
        return "Merged work from another branch."
    return f"Merged work from another branch ({_size(commit)} changed)."


def narrate_commit(commit: CommitFacts, classification: Classification, description: str = "") -> str:
    """One sentence for one commit, from its facts only (or from the human description the judgment chose)."""
    if commit.is_merge:
        return _merge_sentence(commit, description)
    if description:
        return describe_sentence(description)
    subject = commit.subject
    if commit.is_revert:
        original = _REVERT_OF.match(subject)
        if original:
            return f"Undid an earlier change: \u201c{clean_subject(original.group(1))}\u201d."
        what = re.sub(r"^revert(ed|s)?\b[\s:(!]*", "", clean_subject(subject, classification), flags=re.I) or subject
        named = NAMED_CHANGE.match(what)
        if named:  # "revert cli test change": the subject names what it undoes (as the walk found the revert)
            return f"Undid the {named.group(1)}."
        return f"Undid an earlier change: \u201c{what}\u201d."
    text = clean_subject(subject, classification)
    where = _where(classification.areas, classification.category)
    if len(text) < 4 or not re.search(r"[A-Za-z]{3}", text):
        # No usable message: describe the change from its files alone.
        category = categories.get(classification.category)
        kind = (category.phrase if category else "") or "files"
        sentence = f"Changed {kind} ({_size(commit)}) {where}".strip()
        return sentence + "."
    sentence = _plain(_past_tense(_two_sentences(text)))
    if classification.category == "Fixes" and not _starts_with_verb(text):
        # "crash on empty input" names the problem, "match gzip ... case-insensitively" the remedy: the colon
        # reads right for both, where "Fixed match gzip" would not.
        sentence = "Fixed: " + (sentence[:1].lower() + sentence[1:] if sentence[1:2].islower() else sentence)
    elif classification.scope and not _starts_with_verb(text) and classification.scope.lower() not in text.lower():
        # "hooks: post-commit install" -> keep the scope, it is what the fragment is about
        if sentence[1:2].islower():
            sentence = sentence[:1].lower() + sentence[1:]
        sentence = f"{_plain(classification.scope[:1].upper() + classification.scope[1:])}: {sentence}"
    if classification.breaking or where:
        sentence = sentence.rstrip(" .")  # "... legacy behavior (a breaking change for users), in extensions."
    if classification.breaking:
        sentence += " (a breaking change for users)"
    if where and not _mentions_area(sentence, classification.areas):
        sentence += f", {where}"
    sentence = sentence.rstrip()
    if not sentence.endswith((".", "!", "?")):
        sentence += "."
    return sentence


def _mentions_area(sentence: str, areas: Sequence[str]) -> bool:
    lower = sentence.lower()
    return any(a.lower().rsplit("/", 1)[-1] in lower for a in areas if a != ROOT_AREA)


class HeuristicEngine:
    """The offline engine; needs no model, no network and no diff text."""

    name = "heuristic"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = settings or {}

    @staticmethod
    def status(settings: dict[str, Any]) -> EngineStatus:
        return EngineStatus("heuristic", True, "built in, offline, no model needed")

    def fingerprint(self) -> str:
        return f"heuristic/{HEURISTIC_VERSION}"

    def narrate(
        self,
        requests: Sequence[NarrationRequest],
        diffs: DiffProvider | None = None,
        on_progress: ProgressCallback | None = None,
        on_batch=None,
    ) -> list[Narration]:
        out = [
            Narration(sha=r.commit.sha, text=narrate_commit(r.commit, r.classification, r.description),
                      engine=self.name)
            for r in requests
        ]
        if on_progress:
            on_progress(len(out))
        if on_batch:
            on_batch(out)
        return out
