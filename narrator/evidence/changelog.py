"""Changelogs as evidence: which files are changelogs or news fragments, and which entries a commit adds.

One job: from a commit's patch (and optionally the changelog's text after the commit) find the entries a
human wrote for users, with what they are (kind), where they sit (section, version) and what they cite.

Recognised files (``changelog_file_kind``):

- changelog files: ``CHANGES.rst/.md/.txt``, ``CHANGELOG*``, ``HISTORY*``, ``NEWS*``, ``RELEASE_NOTES*``,
  ``ChangeLog-2.1.md``, ``docs/changelog.rst``, ``docs/releases/4.2.txt``, Apache ``changes.xml``, at any depth;
- news fragments: towncrier-style ``<id>.<type>[.<n>][.<ext>]`` in ``changes/``, ``changelog.d/``,
  ``newsfragments/``, ``news/``; rubocop-style ``changelog/new_*.md``, ``fix_*.md``, ``change_*.md``;
  changesets (``.changeset/*.md``); ``changelog_unreleased/<area>/*.md``; GitLab ``changelogs/unreleased/*.yml``.

An entry is ADDED when its first line is an added line and it is not an edit or move of a removed one (its text
contained in the removed text, or its first line sharing more than 60% of its words with a removed line). Bullets are Markdown
or reST (``-``, ``*``, ``+``, ``1.``) with their continuation lines; sub-bullets belong to their parent. A
fragment is one entry (or one per bullet) and counts only when the file is added.

``kind`` uses the vocabulary of the shared changelog data (feature, bugfix, change, doc, removal, deprecation,
security, performance, packaging, misc) and says where it came from (``kind_source``): the fragment's type
(``fragment``), the changes.xml ``type`` (``xml``), a leading tag such as ``[BUGFIX]`` or ``Security:`` (``tag``),
a Conventional Commits type of a pull request title (``prefix``: ``fix(static): ...`` under a catch-all
"Enhancements" section is a fix; the prefix is not part of the text), the nearest section heading above
(``section``: Keep-a-Changelog ``Added/Changed/Deprecated/Removed/Fixed/Security`` and synonyms like "Bug
fixes", "Features", "Breaking changes"; a code fence's closing line is never a heading's underline), the
entry's first verb (``verb``:
"Fixed ...", "Added ...") or, last, a clear phrase in the text (``text``: "is deprecated", "by default instead
of", a GHSA/CVE reference). ``breaking`` is set by "BC break", "breaking", "backwards incompatible" in the tag,
section or text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from narrator.evidence.clean import clean_entry
from narrator.evidence.patch import FilePatch
from narrator.evidence.refs import find_refs
from narrator.evidence.sharing import PATH_MEMO

__all__ = ["KINDS", "ChangelogEntry", "changelog_file_kind", "fragment_type", "normalise_kind", "added_entries",
           "entries_from_text", "tag_entries"]

KINDS = ("feature", "bugfix", "change", "doc", "removal", "deprecation", "security", "performance", "packaging",
         "misc")


@dataclass(frozen=True, slots=True)
class ChangelogEntry:
    """One entry written for users. ``line`` is the entry's first line in the new file (0 for tag notes)."""

    path: str
    line: int
    raw: str  # as written, markers and credits included
    text: str  # plain text (clean_entry): tokens byte-identical
    kind: str | None
    kind_source: str | None  # fragment, xml, tag, prefix (a Conventional Commits type), section, verb, text
    section: str | None  # the section heading as written ("Bug fixes")
    version: str | None  # the version heading above ("3.1.3", "2.10.0-RC2", "Unreleased")
    refs: tuple[str, ...]  # find_refs of the raw entry (and of a fragment's file name)
    breaking: bool = False
    source: str = "changelog"  # changelog, fragment, tag


# ---------------------------------------------------------------------------------------------- files

_CHANGELOG_NAME = re.compile(
    r"^(changes|changelog|change_log|change-log|history|news|releases?|release[-_]?notes|whatsnew|"
    r"whats[-_]new)([-_.][\w.-]*)?$", re.I)
_CHANGELOG_EXT = frozenset({"", "md", "markdown", "rst", "txt", "adoc", "asciidoc", "textile", "rdoc", "org", "x"})
_FRAGMENT_DIRS = frozenset({"changes", "changelog.d", "newsfragments", "newsfragment", "news", "changelog",
                            "changes.d", "news.d", ".changeset", "changelog_unreleased", "release-notes",
                            "releasenotes"})
_RELEASE_DIRS = frozenset({"releases", "release-notes", "releasenotes", "changelogs", "changelog", "news",
                           "whatsnew"})
_DOC_DIRS = frozenset({"docs", "doc", "documentation", "website", "site"})
_FRAGMENT_EXT = frozenset({"", "md", "rst", "txt", "markdown", "yml", "yaml", "adoc"})
_NOT_FRAGMENT = re.compile(r"^(readme|template|_template|\.gitignore|\.gitkeep|\.keep|config|towncrier)", re.I)


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot + 1:].lower() if dot > 0 else ""


@lru_cache(maxsize=PATH_MEMO)  # asked of every file of every commit of a window (numpy: 181,280 files, 8,655 paths)
def changelog_file_kind(path: str) -> str | None:
    """``"file"`` for a changelog, ``"fragment"`` for a news fragment, None for anything else."""
    parts = path.split("/")
    name = parts[-1]
    lower = name.lower()
    dirs = [p.lower() for p in parts[:-1]]
    if lower == "changes.xml":
        return "file"
    parent = dirs[-1] if dirs else ""
    if parent in _FRAGMENT_DIRS or (len(dirs) >= 2 and dirs[-2] in ("changelog_unreleased", "changelogs")):
        if _NOT_FRAGMENT.match(name) or _ext(name) not in _FRAGMENT_EXT and not _TOWNCRIER.match(name):
            return None
        if re.match(r"^v?\d+(\.\d+)+", name) and parent not in (".changeset",):
            return "file"  # changelog/2.1.md: a release's notes, not a fragment
        if _CHANGELOG_NAME.match(name) and _ext(name) in _CHANGELOG_EXT:
            return "file"
        return "fragment"
    if _CHANGELOG_NAME.match(name):
        ext = _ext(name)
        if ext in _CHANGELOG_EXT or ext.isdigit():
            return "file"
        return None
    if parent in _RELEASE_DIRS and (set(dirs) & _DOC_DIRS) and re.match(r"^v?\d+(\.\d+)+.*\.(rst|md|txt)$", lower):
        return "file"
    return None


_TOWNCRIER = re.compile(r"^(?P<id>[+\w-]+?)\.(?P<type>[a-z][a-z_-]*)(?:\.\d+)?(?:\.(?:md|rst|txt|markdown))?$", re.I)
_RUBOCOP = re.compile(r"^(?P<type>new|fix|change|breaking|deprecat\w*|remove|removal|security|perf)_", re.I)
_FRAGMENT_TYPES = {
    "feature": "feature", "features": "feature", "feat": "feature", "new": "feature", "added": "feature",
    "enhancement": "feature", "improvement": "feature", "significant": "feature", "api": "feature",
    "bugfix": "bugfix", "bugfixes": "bugfix", "bug": "bugfix", "fix": "bugfix", "fixed": "bugfix",
    "doc": "doc", "docs": "doc", "documentation": "doc",
    "removal": "removal", "removed": "removal", "remove": "removal", "breaking": "change", "change": "change",
    "changes": "change", "changed": "change", "deprecation": "deprecation", "deprecations": "deprecation",
    "deprecated": "deprecation", "security": "security", "perf": "performance", "performance": "performance",
    "packaging": "packaging", "vendor": "packaging", "dependency": "packaging", "dependencies": "packaging",
    "build": "packaging", "misc": "misc", "trivial": "misc", "internal": "misc", "contrib": "misc",
    "process": "misc", "chore": "misc", "other": "misc", "refactor": "misc", "test": "misc", "tests": "misc",
    # the labels of NumPy-style pull request titles ("BUG, TYP: ...", numpy/scipy/pandas changelogs)
    "enh": "feature", "dep": "deprecation", "simd": "performance", "bld": "packaging", "maint": "misc",
    "mnt": "misc", "typ": "misc", "sty": "misc", "tst": "misc", "rel": "misc", "rev": "misc", "bench": "misc",
}


def fragment_type(path: str) -> str | None:
    """The type word a fragment's name carries (``1234.bugfix.rst`` -> ``bugfix``, ``fix_foo.md`` -> ``fix``)."""
    name = path.rsplit("/", 1)[-1]
    m = _RUBOCOP.match(name)
    if m:
        return m.group("type").lower()
    m = _TOWNCRIER.match(name)
    if m and m.group("type").lower() in _FRAGMENT_TYPES:
        return m.group("type").lower()
    parts = name.split(".")
    for part in parts[1:]:
        if part.lower() in _FRAGMENT_TYPES:
            return part.lower()
    return None


# ---------------------------------------------------------------------------------------------- kinds

_KIND_RULES = [  # searched in order in a lower-cased label; the first hit wins
    ("security", re.compile(r"\bsecurity\b|\bvulnerab|\bcve\b|\bghsa\b")),
    ("change", re.compile(r"\bbreaking\b|\bincompatib|\bbc[- ]?breaks?\b|\bbackwards?[- ]incompat|\bmajor\b")),
    # "Development Fixes", "Internal improvements": work on the project's own process, before fix/feature
    ("misc", re.compile(r"^(development|internal|infrastructure|dev)\b")),
    ("deprecation", re.compile(r"\bdeprecat")),
    ("removal", re.compile(r"\bremov|\bdropped\b|\bdrop\b|\bdeleted?\b")),
    ("bugfix", re.compile(r"\bfix|\bbugs?\b|\bbugfix|\bregression|\bcorrection|\bhotfix|\bpatch(es)?\b")),
    ("performance", re.compile(r"\bperformance\b|\bperf\b|\bspeed|\boptimi[sz]|\bfaster\b")),
    ("doc", re.compile(r"\bdoc(s|umentation)?\b")),
    ("feature", re.compile(r"\bfeatures?\b|\badd(ed|itions?)?\b|\bnew\b|\benhance|\bimprove|\bminor\b|"
                           r"\bhighlights?\b|\bwhat'?s new\b|\bfeat\b")),
    ("packaging", re.compile(r"\bpackag|\bdependenc|\bbuild\b|\bvendor|\brequirements\b|\bdistribution\b")),
    ("misc", re.compile(r"\bmisc|\bother\b|\binternal|\btrivial|\bmaint|\brefactor|\btest|\bci\b|\bchores?\b|"
                        r"\bcontrib|\bdevelopment\b|\binfrastructure\b|\bprocess\b|\bcleanup\b")),
    ("change", re.compile(r"\bchange[sd]?\b|\bmodified\b|\bbehaviou?r\b|\bupdated?\b")),
]


def normalise_kind(label: str | None) -> str | None:
    """A section heading, fragment type or tag in the shared vocabulary (``KINDS``), or None."""
    if not label:
        return None
    lower = label.lower().replace("_", " ").strip()
    if lower in _FRAGMENT_TYPES:
        return _FRAGMENT_TYPES[lower]
    for kind, pattern in _KIND_RULES:
        if pattern.search(lower):
            return kind
    return None


def _is_breaking(label: str) -> bool:
    return re.search(r"\bbreaking\b|\bbc[- ]?breaks?\b|\bbackwards?[- ]incompat|\bincompatible\b", label, re.I) \
        is not None


_TAG = re.compile(r"^\s*(?:\[(?P<bracket>[A-Za-z][\w /&-]{1,30})\]|\*\*(?P<bold>[A-Za-z][\w /&-]{1,30}):?\*\*:?|"
                  r"(?P<plain>(?:[A-Z][\w-]*(?: [A-Z]?[\w-]+)?)(?:\s*[/&,]\s*[A-Z][\w-]*(?: [A-Z]?[\w-]+)?)*):)\s+")
_VERB = re.compile(r"^\s*(?P<verb>add(?:ed|s)?|new|introduc(?:e|ed|es)|implement(?:ed|s)?|support(?:ed|s)?|"
                   r"fix(?:ed|es)?|resolv(?:e|ed|es)|correct(?:ed|s)?|remov(?:e|ed|es)|drop(?:ped|s)?|delet(?:e|ed|es)|"
                   r"deprecat(?:e|ed|es)|chang(?:e|ed|es)|improv(?:e|ed|es)|optimi[sz](?:e|ed|es)|"
                   r"document(?:ed|s)?|sped up|speed up|enabl(?:e|ed|es)|allow(?:ed|s)?)\b", re.I)
_VERB_KIND = (("sped", "performance"), ("speed", "performance"), ("opti", "performance"), ("add", "feature"),
              ("new", "feature"), ("intro", "feature"), ("impl", "feature"), ("impr", "feature"),
              ("supp", "feature"), ("enabl", "feature"), ("allow", "feature"), ("fix", "bugfix"), ("resol", "bugfix"), ("corr", "bugfix"),
              ("remov", "removal"), ("drop", "removal"), ("delet", "removal"), ("deprec", "deprecation"),
              ("chang", "change"), ("doc", "doc"))


def _verb_kind(verb: str) -> str | None:
    return next((kind for prefix, kind in _VERB_KIND if verb.startswith(prefix)), None)
_DEFAULT_CHANGE = re.compile(r"\bby default instead of\b|\b(enabled?|disabled?|turned (on|off))\b.*\bby default\b|"
                             r"\bnow defaults? to\b|\bdefault (is|was) (now|changed)\b|"
                             r"\binstead of\b.*\bby default\b|\bno longer\b|\bnow (always|requires?|raises?)\b", re.I)
_TEXT_KINDS = [
    ("security", re.compile(r"\bsecurity (fix|issue|vulnerability|advisory|problem)|\bvulnerab", re.I)),
    ("deprecation", re.compile(r"\b(is|are|was|were|has been|have been|now|been) deprecated\b|\bdeprecated in favou?r\b|"
                               r"\bdeprecates?\b", re.I)),
    ("removal", re.compile(r"\b(is|are|was|were|has been|have been) (now )?removed\b|\bno longer (available|supported)\b",
                           re.I)),
    ("change", _DEFAULT_CHANGE),
]


def _text_kind(text: str, refs: Sequence[str]) -> str | None:
    if any(r.startswith(("GHSA-", "CVE-")) for r in refs):
        return "security"
    for kind, pattern in _TEXT_KINDS:
        if pattern.search(text):
            return kind
    return None


def _tag_of(text: str) -> tuple[str | None, str]:
    """A leading ``[BUGFIX]`` / ``**Security**:`` / ``BC Break / Security:`` tag and the text after it."""
    m = _TAG.match(text)
    if not m:
        return None, text
    label = m.group("bracket") or m.group("bold") or m.group("plain")
    if normalise_kind(label) is None and not _is_breaking(label) \
            and not any(normalise_kind(part) for part in re.split(r"\s*[/&,]\s*", label)):  # "ENH, TYP"
        return None, text
    if m.group("plain") and len(label.split()) > 4:
        return None, text
    return label, text[m.end():]


# ---------------------------------------------------------------------------------------------- structure

_BULLET = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[-*+\u2022]|\d{1,3}[.)]|#\.)[ \t]+(?P<text>\S.*)$")
_MD_HEADING = re.compile(r"^\s{0,3}(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^([=\-~^\"'*+#:._])\1{2,}\s*$")  # not ``` (a code fence closing, not a heading)
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)(?P<text>[^*_]{2,60}?)(?:\*\*|__):?\s*$")
_COLON_LINE = re.compile(r"^\s*(?P<text>[A-Z][\w /&'-]{2,40}):\s*$")
_VERSION = re.compile(r"(?<![\w.])(?:v|version\s+|release\s+)?(?P<v>\d+(?:\.\d+)+(?:[-.+]?(?:[a-z]+\.?\d*|\d+))*)"
                      r"(?![\w.])", re.I)
_UNRELEASED = re.compile(r"^\W*(unreleased|upcoming|next|in development|dev|main|head|master|to be released)\b", re.I)


def _heading_at(lines: Sequence[str | None], k: int) -> str | None:
    """The heading text if line ``k`` is a heading (Markdown ``#``, setext/reST underlined, bold-only, ``Foo:``)."""
    line = lines[k]
    if line is None:
        return None
    m = _MD_HEADING.match(line)
    if m:
        return m.group("text")
    stripped = line.strip()
    if stripped and not _UNDERLINE.match(line) and k + 1 < len(lines) and re.search(r"[A-Za-z0-9]", stripped):
        nxt = lines[k + 1]
        if nxt is not None and _UNDERLINE.match(nxt) and len(nxt.strip()) >= min(len(stripped), 3) * 0.7 and \
                not _BULLET.match(line):
            return stripped
    m = _BOLD_LINE.match(line) or _COLON_LINE.match(line)
    if m and normalise_kind(m.group("text")) is not None:
        return m.group("text").strip()
    return None


def _version_of(heading: str) -> str | None:
    text = heading.strip().strip("[]").strip()
    if _UNRELEASED.match(text):
        return "Unreleased"
    words = re.sub(r"[\[\]()]", " ", heading).split()
    m = _VERSION.search(" ".join(words[:3]))
    if m:
        return m.group("v")
    return None


def _context_above(lines: Sequence[str | None], k: int, limit: int = 4000) -> tuple[str | None, str | None]:
    """(section, version) from the nearest headings above line ``k``."""
    section = None
    stop = max(-1, k - limit)
    j = k - 1
    while j > stop:
        if lines[j] is None:
            j -= 1
            continue
        heading = _heading_at(lines, j)
        if heading is not None:
            version = _version_of(heading)
            if version is not None:
                return section, version
            if section is None:
                section = heading
        j -= 1
    return section, None


class _Headings:
    """``_context_above`` for many lines of one text at once: each line is checked for a heading once (a commit
    adding hundreds of entries to a long release-notes file scanned up to 4000 lines per entry before)."""

    def __init__(self, lines: Sequence[str | None], limit: int = 4000) -> None:
        self.lines, self.limit = lines, limit
        self._last: list[int] = []  # index of the nearest heading at or above each line (-1: none)
        self._last_version: list[int] = []  # the same, for headings that name a version
        self._text: dict[int, tuple[str, str | None]] = {}  # heading line -> (text, version)

    def _extend(self, upto: int) -> None:
        last = self._last[-1] if self._last else -1
        last_version = self._last_version[-1] if self._last_version else -1
        for j in range(len(self._last), upto + 1):
            heading = _heading_at(self.lines, j) if self.lines[j] is not None else None
            if heading is not None:
                version = _version_of(heading)
                self._text[j] = (heading, version)
                last = j
                if version is not None:
                    last_version = j
            self._last.append(last)
            self._last_version.append(last_version)

    def above(self, k: int) -> tuple[str | None, str | None]:
        """Exactly ``_context_above(lines, k, limit)``."""
        if k < 1:
            return None, None
        if len(self._last) < k:
            self._extend(k - 1)
        lowest = k - self.limit + 1  # the scan looks at lines k-1 down to k-limit+1
        h = self._last[k - 1]
        if h < max(lowest, 0):
            return None, None
        heading, version = self._text[h]
        if version is not None:
            return None, version
        v = self._last_version[k - 1]
        return heading, (self._text[v][1] if v >= max(lowest, 0) else None)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _block_end(lines: Sequence[str | None], k: int) -> tuple[int, list[int]]:
    """The end (exclusive) of the bullet starting at ``k`` and the starts of its sub-bullets."""
    first = lines[k] or ""
    m = _BULLET.match(first)
    base = _indent(first)
    content_col = base + len(m.group("marker")) + 1 if m else base + 2
    subs: list[int] = []
    j = k + 1
    blank = False
    while j < len(lines):
        line = lines[j]
        if line is None:
            break
        if not line.strip():
            blank = True
            j += 1
            continue
        if _heading_at(lines, j) is not None or _UNDERLINE.match(line):
            break
        bullet = _BULLET.match(line)
        ind = _indent(line)
        if bullet and ind <= base:
            break
        if blank and ind < content_col:
            break
        if bullet:
            subs.append(j)
        elif ind <= base and not blank and _MD_HEADING.match(line):
            break
        blank = False
        j += 1
    while j - 1 > k and (lines[j - 1] is None or not lines[j - 1].strip()):
        j -= 1
    return j, subs


def _entry_text(lines: Sequence[str | None], k: int, end: int, subs: list[int]) -> str:
    """The raw text of a bullet: the first paragraph(s), then its sub-bullets joined with "; "."""
    pieces: list[list[str]] = [[]]
    for j in range(k, end):
        line = lines[j] or ""
        if j in subs:
            pieces.append([])
            m = _BULLET.match(line)
            line = m.group("text") if m else line
        elif j == k:
            m = _BULLET.match(line)
            line = m.group("text") if m else line
        pieces[-1].append(line.strip())
    head = "\n".join(p for p in pieces[0] if p)
    rest = ["\n".join(p for p in piece if p) for piece in pieces[1:]]
    return head + ("\n" + "; ".join(r for r in rest if r) if rest else "")


_NOISE_ENTRY = re.compile(r"^(released?|unreleased|release date)\b[^a-z]*$|^(version\s+)?v?\d+(\.\d+)+\S*[^a-z]*$|"
                          r"^(release|prepare|bump|start|tag)(s|d|ed|ing)?\b.{0,40}\bv?\d+(\.\d+)+\S*\.?$|^[\W\d]*$",
                          re.I)


# GitHub's generated notes keep the pull request titles: "fix(static): reject ..." under "Enhancements".
_CC_ENTRY = re.compile(r"^\s*(?P<type>feat|feature|fix|bugfix|perf|docs?|refactor|chore|tests?|build|ci|style|deps)"
                       r"(?:\([^)\n]{1,40}\))?!?:\s+")
_CC_KIND = {"feat": "feature", "feature": "feature", "fix": "bugfix", "bugfix": "bugfix", "perf": "performance",
            "doc": "doc", "docs": "doc", "refactor": "misc", "chore": "misc", "test": "misc", "tests": "misc",
            "build": "packaging", "ci": "misc", "style": "misc", "deps": "packaging"}


def _is_catch_all(section: str) -> bool:
    """A section that lists every kind of change ("Enhancements", "Improvements"), not only new features."""
    return re.search(r"\benhancements?\b|\bimprovements?\b|\bchanges\b", section, re.I) is not None and \
        re.search(r"\bminor\b|\bmajor\b|\bnew\b|\bfeatures?\b", section, re.I) is None


_DEPENDENCY_UPDATE = re.compile(r"^(?:update[sd]?|bump(?:s|ed)?|upgrade[sd]?)\s+(?:the\s+)?(?:\S+\s+){0,2}"
                                r"(?:deps|dependencies)(?:\s+(?:to|versions?|for)\b|\s*$|\s*[,;.(])", re.I)


def _make_entry(path: str, line: int, raw: str, section: str | None, version: str | None, source: str,
                kind: str | None = None, kind_source: str | None = None,
                extra_refs: tuple[str, ...] = ()) -> ChangelogEntry | None:
    tag, rest = _tag_of(raw)
    cc = _CC_ENTRY.match(rest if tag else raw)
    if cc and kind is None and not tag and normalise_kind(section) in (None, "feature", "misc"):
        # the pull request's own type is more precise than a catch-all "Enhancements" section
        kind, kind_source = _CC_KIND[cc.group("type").lower()], "prefix"
    text = clean_entry(rest if tag else raw)
    if cc:
        text = _CC_ENTRY.sub("", text, count=1)
    elif not tag:  # a tag behind a credit: numpy's "`#28123 <url>`__: TYP: fix ..."
        tag, text = _tag_of(text)
    if len(text) < 3 or _NOISE_ENTRY.match(text):
        return None
    refs = find_refs(raw)
    for ref in extra_refs:
        if ref not in refs:
            refs = refs + (ref,)
    breaking = bool(tag and _is_breaking(tag)) or bool(section and _is_breaking(section)) or \
        re.search(r"\bBC break\b|\bbreaking change\b|\bbackwards?[- ]incompatible\b", text, re.I) is not None
    if kind is None and tag:
        parts = [normalise_kind(p) for p in re.split(r"\s*[/&,]\s*", tag)]
        found = [p for p in parts if p]
        if found:
            kind, kind_source = ("security" if "security" in found else found[0]), "tag"
    if kind is None and section:
        kind = normalise_kind(section)
        kind_source = "section" if kind else None
        verb = _VERB.match(text)
        said = _verb_kind(verb.group("verb").lower()) if verb else None
        if kind == "change" and not breaking and said == "feature" and not _DEFAULT_CHANGE.search(text):
            kind = "feature"  # "Adds first-class support for X" listed under "Logic changes" adds, it changes nothing
        elif kind == "feature" and said == "bugfix" and _is_catch_all(section):
            kind = "bugfix"  # "Fix proxy panic when ..." under a catch-all "Enhancements"
    if kind in (None, "feature", "change", "misc") and _DEPENDENCY_UPDATE.search(text):
        kind, kind_source = "packaging", "text"  # "Update deps to latest versions" under "Enhancements"
    if kind is None:
        m = _VERB.match(text)
        if m:
            kind, kind_source = _verb_kind(m.group("verb").lower()), "verb"
        if kind in (None, "feature") and _DEFAULT_CHANGE.search(text):
            kind, kind_source = "change", "text"  # "Enabled X by default", "now defaults to"
    if kind is None:
        kind = _text_kind(text, refs)
        kind_source = "text" if kind else None
    if kind == "change" and breaking is False and section and _is_breaking(section):
        breaking = True
    return ChangelogEntry(path=path, line=line, raw=raw, text=text, kind=kind, kind_source=kind_source,
                          section=section, version=version, refs=refs, breaking=breaking, source=source)


def _bullets(lines: Sequence[str | None], starts: Sequence[int], path: str, source: str,
             offset: int) -> list[ChangelogEntry]:
    out: list[ChangelogEntry] = []
    covered_until = -1
    headings = _Headings(lines)
    for k in starts:
        if k < covered_until:
            continue  # a sub-bullet of an entry already taken
        end, subs = _block_end(lines, k)
        covered_until = end
        section, version = headings.above(k)
        entry = _make_entry(path, k + offset, _entry_text(lines, k, end, subs), section, version, source)
        if entry is not None:
            out.append(entry)
    return out


# ---------------------------------------------------------------------------------------------- patches

_WORDS = re.compile(r"\w+")


class _Removed:
    """The removed lines of a changelog patch, indexed by word, to tell an edited or moved entry from a new one."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.text = " ".join(lines)
        self.sets = [frozenset(_WORDS.findall(line.lower())) for line in lines]
        self.index: dict[str, list[int]] = {}
        for k, words in enumerate(self.sets):
            for w in words:
                self.index.setdefault(w, []).append(k)

    def has_edit_of(self, first: str) -> bool:
        """True when ``first`` is contained in the removed text or shares more than 60% of its words with one
        removed line (word overlap over the larger line: fast, and close to difflib's ratio on prose)."""
        key = " ".join(first.split())
        if len(key) >= 8 and key in self.text:
            return True
        words = frozenset(_WORDS.findall(key.lower()))
        if not words:
            return False
        hits: dict[int, int] = {}
        for w in words:
            for k in self.index.get(w, ()):
                hits[k] = hits.get(k, 0) + 1
        return any(count / max(len(words), len(self.sets[k])) > 0.6 for k, count in hits.items())


def _new_lines(patch: FilePatch, text_after: str | None) -> tuple[list[str | None], int]:
    """The new file as a list (index = line - 1); without ``text_after``, only the lines the hunks show."""
    if text_after is not None:
        return list(text_after.split("\n")), 1
    last = max((h.new_start + h.new_count for h in patch.hunks), default=1)
    lines: list[str | None] = [None] * (last + 1)
    for hunk in patch.hunks:
        number = hunk.new_start
        for raw in hunk.body:
            head = raw[:1]
            if head == "-" or head == "\\":
                continue
            if 0 < number <= len(lines):
                lines[number - 1] = raw[1:]
            number += 1
    return lines, 1


def added_entries(patch: FilePatch, text_after: str | None = None) -> tuple[ChangelogEntry, ...]:
    """The entries a commit's patch of one changelog file or fragment adds (empty for other files).

    ``text_after`` (the file's full text after the commit) lets entries find their section and version
    headings even when the hunk does not show them; without it only the hunk's context lines are used.
    """
    kind = changelog_file_kind(patch.path)
    if kind is None or patch.is_binary or not patch.hunks:
        return ()
    if kind == "fragment":
        return _fragment_entries(patch, text_after)
    if patch.path.lower().endswith("changes.xml"):
        return _xml_entries(patch, text_after)
    removed_lines = []
    for line in patch.removed_lines:
        if line.text.strip():
            m = _BULLET.match(line.text)
            removed_lines.append(" ".join((m.group("text") if m else line.text).split()))
    removed = _Removed(removed_lines) if removed_lines else None
    lines, _ = _new_lines(patch, text_after)
    starts = []
    for line in patch.added_lines:
        m = _BULLET.match(line.text)
        if not m or re.fullmatch(r"[-*_ ]+", m.group("text")):
            continue
        k = line.number - 1
        if k >= len(lines) or lines[k] is None or lines[k].rstrip("\r") != line.text.rstrip("\r"):
            if text_after is not None:
                continue  # text_after does not match the patch: trust neither for this line
        if removed is not None and removed.has_edit_of(m.group("text")):
            continue
        starts.append(k)
    return tuple(_bullets(lines, starts, patch.path, "changelog", 1))


_FRONT_MATTER = re.compile(r"\A---\s*\n(?P<meta>.*?)\n---\s*\n", re.S)


def _fragment_entries(patch: FilePatch, text_after: str | None) -> tuple[ChangelogEntry, ...]:
    if patch.status not in ("added", "copied"):
        return ()
    text = text_after if text_after is not None else "\n".join(line.text for line in patch.added_lines)
    name = patch.path.rsplit("/", 1)[-1]
    ftype = fragment_type(patch.path)
    kind = normalise_kind(ftype) if ftype else None
    if ftype in ("new",):
        kind = "feature"
    extra: tuple[str, ...] = ()
    m = _TOWNCRIER.match(name)
    if m and m.group("id").isdigit():
        extra = (f"#{int(m.group('id'))}",)
    meta = _FRONT_MATTER.match(text)
    if meta:  # changesets: "pkg": minor
        text = text[meta.end():]
        bump = re.search(r":\s*['\"]?(major|minor|patch)\b", meta.group("meta"))
        if bump and kind is None:
            kind = {"major": "change", "minor": "feature", "patch": "bugfix"}[bump.group(1)]
    if _ext(name) in ("yml", "yaml"):  # GitLab: title: ..., type: fixed
        title = re.search(r"^title:\s*['\"]?(.*?)['\"]?\s*$", text, re.M)
        yaml_type = re.search(r"^type:\s*['\"]?(\w+)", text, re.M)
        if not title:
            return ()
        text = title.group(1)
        if yaml_type:
            kind = normalise_kind(yaml_type.group(1)) or kind
    lines: list[str | None] = list(text.split("\n"))
    tops = [k for k, line in enumerate(lines) if line and _BULLET.match(line) and _indent(line) == 0]
    source = "fragment"
    if len(tops) >= 2:
        out = []
        for k in tops:
            end, subs = _block_end(lines, k)
            entry = _make_entry(patch.path, k + 1, _entry_text(lines, k, end, subs), None, None, source, kind,
                                "fragment" if kind else None, extra)
            if entry:
                out.append(entry)
        return tuple(out)
    body = text.strip()
    m2 = _BULLET.match(body.split("\n", 1)[0]) if body else None
    if m2:
        body = m2.group("text") + ("\n" + body.split("\n", 1)[1] if "\n" in body else "")
    entry = _make_entry(patch.path, 1, body, None, None, source, kind, "fragment" if kind else None, extra)
    return (entry,) if entry else ()


_ACTION = re.compile(r"<action\b(?P<attrs>[^>]*)>(?P<text>.*?)</action>", re.S)
_XML_TYPES = {"add": "feature", "fix": "bugfix", "update": "change", "remove": "removal"}


def _xml_entries(patch: FilePatch, text_after: str | None) -> tuple[ChangelogEntry, ...]:
    added_numbers = {line.number for line in patch.added_lines}
    lines, _ = _new_lines(patch, text_after)
    text = "\n".join(line if line is not None else "" for line in lines)
    removed_text = " ".join(" ".join(line.text.split()) for line in patch.removed_lines)
    out = []
    for m in _ACTION.finditer(text):
        number = text.count("\n", 0, m.start()) + 1
        if number not in added_numbers:
            continue
        raw = re.sub(r"\s+", " ", m.group("text")).strip()
        if raw and raw in removed_text:
            continue
        attrs = dict(re.findall(r"(\w[\w-]*)\s*=\s*\"([^\"]*)\"", m.group("attrs")))
        kind = _XML_TYPES.get(attrs.get("type", "").lower())
        issue = attrs.get("issue", "")
        version = None
        release = text.rfind("<release", 0, m.start())
        if release != -1:
            vm = re.search(r"version=\"([^\"]+)\"", text[release:release + 300])
            version = vm.group(1) if vm else None
        entry = _make_entry(patch.path, number, raw + (f" [{issue}]" if issue else ""), None, version,
                            "changelog", kind, "xml" if kind else None, find_refs(issue))
        if entry:
            out.append(entry)
    return tuple(out)


# ---------------------------------------------------------------------------------------------- plain text

_SIGNATURE = re.compile(r"-----BEGIN PGP SIGNATURE-----.*?(-----END PGP SIGNATURE-----|\Z)|"
                        r"-----BEGIN SSH SIGNATURE-----.*?(-----END SSH SIGNATURE-----|\Z)", re.S)


def entries_from_text(text: str, path: str = "", source: str = "tag") -> tuple[ChangelogEntry, ...]:
    """Every bullet of a text (release notes, an annotated tag's message) as entries with their headings.

    Text without bullets gives one entry per paragraph (the first line is skipped when it only names the
    release, as in ``release version 3.1.3``).
    """
    if not text or not text.strip():
        return ()
    text = _SIGNATURE.sub("", text)
    lines: list[str | None] = list(text.replace("\r\n", "\n").split("\n"))
    starts = [k for k, line in enumerate(lines) if line and _BULLET.match(line)
              and not re.fullmatch(r"[-*_ ]+", _BULLET.match(line).group("text"))]
    if starts:
        return tuple(_bullets(lines, starts, path, source, 1))
    out = []
    paragraph: list[str] = []
    start = 0
    for k, line in enumerate(lines + [""]):
        if line is not None and line.strip() and _heading_at(lines, k) is None and not _UNDERLINE.match(line):
            if not paragraph:
                start = k
            paragraph.append(line)
            continue
        if paragraph:
            entry = _make_entry(path, start + 1, "\n".join(paragraph), None, None, source)
            if entry is not None:
                out.append(entry)
            paragraph = []
    return tuple(out[:20])


def tag_entries(tag: str, message: str) -> tuple[ChangelogEntry, ...]:
    """The entries of an annotated tag's release notes (``path`` is the tag name, ``version`` its version)."""
    entries = entries_from_text(message, path=tag, source="tag")
    version = _version_of(tag) if tag else None
    if version is None:
        return entries
    return tuple(e if e.version else _with_version(e, version) for e in entries)


def _with_version(entry: ChangelogEntry, version: str) -> ChangelogEntry:
    from dataclasses import replace

    return replace(entry, version=version)
