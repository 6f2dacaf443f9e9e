"""How much a commit (or a theme of commits) matters to the project's users, with the reasons why.

One job: ``score(evidence)`` turns a ``CommitEvidence`` into a ``Score`` (a number, a tier and short plain
reasons); ``explain(evidence)`` is just the reasons. Deterministic: the same evidence always gives the same score.

The tier is the highest that the evidence supports; its base dominates the score:

| tier        | base | evidence                                                                                   |
|-------------|------|--------------------------------------------------------------------------------------------|
| (release notes) |  | a commit adding changelog entries without touching shipped source (or adding two or more with at most 6 source lines, a version bump) is docs (below): its entries describe other commits |
| security    | 200  | a strong security marker: GHSA/CVE id, advisory link, "Merge commit from fork", a changelog entry of kind security |
| behaviour   | 150  | a code signal in shipped source (public API/CLI option/env var removed or renamed, default changed, exit code changed, deprecation added); a changelog entry of kind removal/deprecation/change or marked breaking; a Conventional Commits ``!``/BREAKING CHANGE |
| feature     | 100  | a changelog entry of kind feature; or the category Features with shipped source touched     |
| notable     |  95  | a changelog entry without a kind (users were told, the section does not say what it is)     |
| fix         |  90  | a changelog entry of kind bugfix; or the category Fixes with shipped source touched         |
| performance |  80  | a changelog entry of kind performance; or the category Performance with shipped source     |
| security    | 200  | (also) a fix whose subject names a vulnerability it closes ("Prevent prototype pollution in ...") |
| code        |  60  | shipped source changed, nothing else known (an upkeep category with < 50 source lines stays upkeep) |
| docs        |  40  | documentation (entry kind doc, category Documentation with < 50 source lines, or only docs/changelog files); a release-notes commit (entries added, no shipped source: ``match.match_entries`` gives its entries to the commits they describe); a change of comments only in shipped source (a JSDoc return type) |
| refactor    |  35  | the category Refactoring with shipped source; a revert; a fix or feature that only tidies (lint, formatting, typos) |
| tests       |  30  | only tests                                                                                  |
| upkeep      |  10  | tooling, CI, dependencies, generated/vendored files, bots, misc/packaging entries; a branch sync (``Merge branch 'stable'``) always, whatever its diff carries: that work is counted in its own commits |

Adjustments, added to the base (at most +42 in all, so a tier is never overtaken by the one two steps below):

| adjustment              | points                                                       |
|-------------------------|--------------------------------------------------------------|
| human changelog entry   | +15 (an entry is strong evidence that users care)             |
| shipped-source churn    | +2 * log2(1 + lines), at most +10                             |
| tests touched with source | +3                                                          |
| more behaviour signals  | +2 per distinct further signal name, at most +6               |
| weak security wording   | +8 ("vulnerability", "path traversal", ...; the tier is kept) |

A bot's commit and a branch sync are always upkeep; a bot's commit gets no adjustment.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from narrator.evidence.commit import CommitEvidence
from narrator.evidence.signals import BEHAVIOUR_KINDS, Signal

__all__ = ["Score", "TIERS", "score", "explain", "tier_of", "is_release_notes", "RELEASE_NOTES_REASON"]
RELEASE_NOTES_REASON = "adds release notes"  # the first reason of a release-notes commit

TIERS = {"security": 200, "behaviour": 150, "feature": 100, "notable": 95, "fix": 90, "performance": 80,
         "code": 60, "docs": 40, "refactor": 35, "tests": 30, "upkeep": 10}
_ENTRY_TIER = {"security": "security", "removal": "behaviour", "deprecation": "behaviour", "change": "behaviour",
               "feature": "feature", "bugfix": "fix", "performance": "performance", "doc": "docs",
               "packaging": "upkeep", "misc": "upkeep", None: "notable"}
_CATEGORY_TIER = {"Features": "feature", "Fixes": "fix", "Performance": "performance", "Refactoring": "refactor",
                  "Documentation": "docs", "Tests": "tests", "Dependencies": "upkeep", "Build & CI": "upkeep",
                  "Chores": "upkeep", "Reverts": "refactor", "Merges": "upkeep"}
_VERSION_BUMP_CHURN = 6  # a release commit may bump a version constant in source (echo's version.go)
_UPKEEP_CHURN = 50  # an upkeep-classified commit touching fewer source lines than this stays upkeep
_RANK = {tier: rank for rank, tier in enumerate(sorted(TIERS, key=lambda t: -TIERS[t]))}  # 0: the highest tier
_SOURCE_TIERS = frozenset({"feature", "fix", "performance", "refactor"})
_SIGNAL_WORDS = {
    "api_removed": "public API removed", "api_renamed": "public API renamed", "option_removed": "CLI option removed",
    "option_renamed": "CLI option renamed", "env_removed": "environment variable no longer read",
    "default_changed": "default changed", "exit_code_changed": "exit code changed",
    "deprecation_added": "deprecation added",
}
# Which behaviour signal to cite first: what breaks a user's command line or scripts before library API churn.
_SEVERITY = ("option_removed", "env_removed", "exit_code_changed", "default_changed", "option_renamed", "api_removed",
             "api_renamed", "deprecation_added")
# A subject that names a vulnerability and says it closes it ("Prevent prototype pollution", "block XSS in ...").
_PROTECTS = re.compile(r"^(?:\w+(?:\([^)]*\))?!?:\s*)?(?:fix|prevent|block|sanitiz|escap|harden|validat|reject|guard|"
                       r"patch|mitigat|avoid|protect|disallow|forbid|restrict|secure)", re.I)
# Tidying that reaches users in no way: lint and formatting fixes, typos in code.
_TIDY = re.compile(r"\b(?:lint(?:ing|er)?|linters|formatting|reformat\w*|code style|coding style|whitespace|"
                   r"prettier|eslint|rubocop|phpcs|php-cs-fixer|gofmt|black|isort|typos?)\b", re.I)
_BRANCH_SYNC = re.compile(r"^Merge (?:remote-tracking )?branch '[^']+'(?: of \S+)?(?: into \S+)?\s*$|"
                          r"^Merge (?:tag|branch) '[^']+'", re.I)


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    tier: str
    reasons: tuple[str, ...]


def _cite(signal: Signal) -> str:
    where = f" ({signal.path}:{signal.line})" if signal.path else ""
    detail = f" {signal.detail}" if signal.detail and signal.kind in ("default_changed", "exit_code_changed") else ""
    if signal.kind.endswith("_renamed"):
        detail = f", {signal.detail}"
    return f"{_SIGNAL_WORDS.get(signal.kind, signal.kind)}: {signal.name}{detail}{where}"


def _quote(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[:width - 1].rstrip() + "\u2026"


def is_release_notes(evidence: CommitEvidence) -> bool:
    """Whether a commit's changelog entries describe other commits: it adds entries without touching shipped
    source (or adds two or more with at most a version bump in source), touching nothing but changelogs, docs,
    tooling and dependency files besides."""
    counts = evidence.kind_counts
    return bool(evidence.entries) and "changelog" in counts and (
        (not evidence.touches_source and set(counts) <= {"changelog", "docs", "tooling", "dependencies"})
        or (len(evidence.entries) >= 2 and evidence.source_churn <= _VERSION_BUMP_CHURN))


def tier_of(evidence: CommitEvidence) -> tuple[str, list[str]]:
    """The tier the evidence supports and the reasons for it (see the module docstring)."""
    reasons: list[str] = []
    if evidence.is_bot:
        return "upkeep", ["made by a bot"]
    if _BRANCH_SYNC.match(evidence.subject or ""):
        return "upkeep", ["merges one branch into another (the work is counted in its own commits)"]
    counts = evidence.kind_counts
    if is_release_notes(evidence):
        n = len(evidence.entries)
        security = sum(1 for e in evidence.entries if e.kind == "security")
        extra = f", {security} security" if security else ""
        return "docs", [f"{RELEASE_NOTES_REASON} ({n} entr{'y' if n == 1 else 'ies'}{extra}; match_entries gives them "
                        f"to the commits they describe)"]
    strong_security = [s for s in evidence.signals if s.kind == "security" and s.strength == "strong"]
    if strong_security:
        first = strong_security[0]
        label = first.detail if first.name in ("security entry", "Merge commit from fork") else \
            f"{first.detail} {first.name}"
        return "security", [f"{label} ({first.where})"]
    behaviour = sorted((s for s in evidence.signals if s.kind in BEHAVIOUR_KINDS and
                        (s.where == "source" or evidence.touches_source)),
                       key=lambda s: (_SEVERITY.index(s.kind), s.where != "source"))
    breaking_entries = [e for e in evidence.entries if e.breaking or e.kind in ("removal", "deprecation", "change")]
    if behaviour or breaking_entries or evidence.breaking:
        if breaking_entries:
            e = breaking_entries[0]
            label = "breaking change" if e.breaking else {"removal": "removal", "deprecation": "deprecation",
                                                          "change": "behaviour change"}[e.kind]
            reasons.append(f"changelog says {label}: \u201c{_quote(e.text)}\u201d")
        if behaviour:
            reasons.append(_cite(behaviour[0]))
        if evidence.breaking and not reasons:
            reasons.append("marked as a breaking change in the commit message")
        return "behaviour", reasons
    best = None
    for entry in evidence.entries:
        tier = _ENTRY_TIER.get(entry.kind, "notable")
        if best is None or _RANK[tier] < _RANK[best[0]]:
            best = (tier, entry)
    if best is not None and best[0] != "upkeep":
        tier, entry = best
        what = f"changelog entry ({entry.kind})" if entry.kind else "changelog entry"
        return tier, [f"{what}: \u201c{_quote(entry.text)}\u201d"]
    if evidence.is_revert:
        return "refactor", ["reverts an earlier change"]
    named = [s for s in evidence.signals if s.kind == "security" and s.where == "subject"]
    if named and evidence.touches_source and not evidence.comments_only and (
            evidence.category == "Fixes" or _PROTECTS.search(evidence.subject or "")):
        # "Prevent prototype pollution on baseUnset function": the author names the vulnerability it closes
        return "security", [f"the subject names a vulnerability it fixes: \u201c{named[0].name}\u201d"]
    if evidence.comments_only:
        return "docs", ["changes only comments in shipped source"]
    category_tier = _CATEGORY_TIER.get(evidence.category or "")
    if category_tier in _SOURCE_TIERS and _TIDY.search(evidence.subject or ""):
        return "refactor", [f"tidies code ({_TIDY.search(evidence.subject or '').group(0).lower()})"]
    if category_tier in _SOURCE_TIERS and evidence.touches_source:
        return category_tier, [f"classified as {evidence.category}"]
    if category_tier == "upkeep" and evidence.source_churn < _UPKEEP_CHURN:
        return "upkeep", [f"classified as {evidence.category}, touching little shipped source"]
    if category_tier == "docs" and evidence.source_churn < _UPKEEP_CHURN:  # "doc: fix autoLink in the doc builder"
        return "docs", [f"classified as {evidence.category}, touching little shipped source"]
    if evidence.touches_source:
        return "code", ["changes shipped source (no changelog entry or signal says more)"]
    if best is not None:
        return "upkeep", [f"changelog entry ({best[1].kind}): \u201c{_quote(best[1].text)}\u201d"]
    if counts and set(counts) <= {"docs", "changelog"}:
        return "docs", ["only documentation"]
    if category_tier == "docs":
        return "docs", ["classified as Documentation"]
    if counts and set(counts) <= {"test"} or category_tier == "tests":
        return "tests", ["only tests"]
    if category_tier in ("upkeep",) or counts:
        return "upkeep", ["only tooling, CI, dependency or generated files" if counts else
                          f"classified as {evidence.category}"]
    return "upkeep", ["no files changed"]


def score(evidence: CommitEvidence) -> Score:
    """The importance of one commit: tier base + adjustments, with every reason as a short plain string."""
    tier, reasons = tier_of(evidence)
    value = float(TIERS[tier])
    if evidence.is_bot or _BRANCH_SYNC.match(evidence.subject or ""):
        return Score(value, tier, tuple(reasons))
    bonus = 0.0
    human = [e for e in evidence.entries if e.source in ("changelog", "fragment", "tag")]
    if human:
        bonus += 15
        if not any("changelog" in r for r in reasons):
            reasons.append(f"has a changelog entry: \u201c{_quote(human[0].text)}\u201d")
    if evidence.source_churn:
        bonus += min(10.0, 2 * math.log2(1 + evidence.source_churn))
        reasons.append(f"changes {evidence.source_churn} lines of shipped source")
    if evidence.tests_touched and evidence.touches_source:
        bonus += 3
        reasons.append("tests updated")
    behaviour_names = []
    for s in evidence.signals:
        if s.kind in BEHAVIOUR_KINDS and s.where == "source" and (s.kind, s.name) not in behaviour_names:
            behaviour_names.append((s.kind, s.name))
    if len(behaviour_names) > 1:
        bonus += min(6, 2 * (len(behaviour_names) - 1))
        cited = {r for r in reasons}
        for s in sorted(evidence.signals, key=lambda s: _SEVERITY.index(s.kind) if s.kind in _SEVERITY else 99):
            if s.kind in BEHAVIOUR_KINDS and s.where == "source":
                line = _cite(s)
                if line not in cited and len(reasons) < 8:
                    reasons.append(line)
                    cited.add(line)
    weak = [s for s in evidence.signals if s.kind == "security" and s.strength == "weak"]
    if weak and tier != "security":
        bonus += 8
        reasons.append(f"mentions security: \u201c{weak[0].name}\u201d")
    return Score(round(value + min(bonus, 42.0), 2), tier, tuple(reasons))


def explain(evidence: CommitEvidence) -> tuple[str, ...]:
    """Why a commit matters, as short plain strings (the same reasons ``score`` gives)."""
    return score(evidence).reasons
