"""The original study's preprocessing, as pure functions with golden tests.

Functions (CodeSearchNet-style): the summary is the documentation's first paragraph with tags, Doxygen /
``:param`` / ``@return`` lines and markup removed; kept when it is at least 30 characters, capitalised,
ends with ``.``/``!``/``?`` (not ``...``) and does not start with a generic See/Refer/TODO; code within
length ranges; no tests, constructors or trivial overrides.

Commits (CommitPackFT-style): one file, a subject of 10-100 characters starting with a word, no merges,
reverts, WIP/fixups, version bumps, initial commits, web-editor defaults or bare issue references; a
text diff of at most 6,000 characters; contents of at most 30,000 characters; no bots, no vendored paths.

Changelog pairs (``../shared/data/changelog``): the entry is 20-500 characters with at least 12 ASCII
letters (90% of its letters), not a version header, release line or bump, not the commit subject again
(auto-generated changelogs), and the diff holds at least one file.

Each ``*_rejection`` function returns None for a kept record, else a short reason (counted in reports).
"""

from __future__ import annotations

import hashlib
import html
import re
from typing import Iterable, Iterator, TypeVar

from finetune.data.schema import ChangelogRecord, CommitRecord, FunctionRecord

# ---------------------------------------------------------------- docstrings -> summaries

_TAG_LINE = re.compile(
    r"^\s*(@\w+|:(param|parameter|arg|argument|key|keyword|type|raises?|except(ion)?|returns?|rtype|var|ivar|cvar)\b"
    r"|(Args|Arguments|Parameters|Params|Returns?|Yields?|Raises|Throws|Examples?|Notes?|Attributes|See Also|"
    r"Warnings?|References|Todo|Usage)\s*:?\s*$|(Args|Arguments|Parameters|Returns?|Yields?|Raises|Example|Note)\s*:"
    r"|\.\. \w|>>>|<p>|[\\@](brief|param|return|returns|throws|see|note|details)\b)",
    re.IGNORECASE,
)
_NUMPY_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_INLINE_LINK = re.compile(r"\{@(?:code|link|linkplain|literal|value)\s+([^}]*)\}")
_SPHINX_ROLE = re.compile(r":(?:py:)?\w+:`(~?)([^`<]*?)\s*(?:<([^`>]*)>)?`")
_DOUBLE_BACKTICK = re.compile(r"``([^`]+)``")
_YARD_REF = re.compile(r"\{#?([\w.:?!#]+)(?:\s+[^}]*)?\}")
_RDOC_CODE = re.compile(r"(?<![\w+])\+([\w.:?!#\[\]=-]+)\+(?![\w+])")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_GENERIC_START = re.compile(r"^(see|refer|todo|deprecated|fixme)\b", re.IGNORECASE)

MIN_SUMMARY_CHARS = 30
MAX_CODE_CHARS = 4000
MIN_BODY_LINES = 3
_TRIVIAL_NAMES = {
    "Python": {"__init__", "__str__", "__repr__", "__eq__", "__ne__", "__hash__"},
    "Java": {"toString", "equals", "hashCode"},
    "JavaScript": {"constructor", "toString"},
    "PHP": {"__construct", "__destruct", "__toString", "toString"},
    "Ruby": {"initialize", "to_s", "inspect", "==", "eql?", "hash"},
    "Go": {"String", "GoString"},
}


def summarize_docstring(docstring: str, language: str = "") -> str:
    """The first paragraph of a documentation text, tags and markup removed, whitespace collapsed.

    HTML tags are removed for the languages whose doc comments use HTML (not Python, where ``<x>`` is text).
    """
    lines = docstring.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped == "*" or stripped.startswith("* "):  # Javadoc-style continuation marker
            stripped = stripped[1:].strip()
        if not stripped:
            if kept:
                break
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _TAG_LINE.match(stripped) or _NUMPY_UNDERLINE.match(nxt):
            break
        kept.append(stripped)
    text = " ".join(kept)
    text = _INLINE_LINK.sub(_inline_link, text)
    text = _SPHINX_ROLE.sub(_sphinx_role, text)
    text = _DOUBLE_BACKTICK.sub(r"`\1`", text)
    text = _YARD_REF.sub(r"\1", text)
    if language == "Ruby":
        text = _RDOC_CODE.sub(r"`\1`", text)
    if language != "Python":
        text = html.unescape(_HTML_TAG.sub("", text))
    return " ".join(text.split())


def _inline_link(match: re.Match) -> str:
    """``{@link A#b(int, int) label}`` -> ``label``; without a label the target; ``{@code x}`` -> ``x``."""
    if match.group(0).startswith(("{@code", "{@literal", "{@value")):
        return match.group(1).strip()
    body = match.group(1).strip()
    depth = 0
    for i, ch in enumerate(body):
        depth += ch == "("
        depth -= ch == ")"
        if ch.isspace() and depth == 0:
            return body[i:].strip()
    return body.lstrip("#")


def _sphinx_role(match: re.Match) -> str:
    tilde, title, target = match.group(1), match.group(2), match.group(3)
    if target and title:  # :class:`Label <target>` shows the label
        return f"`{title}`"
    name = target or title
    return f"`{name.split('.')[-1] if tilde else name}`"


def summary_rejection(summary: str) -> str | None:
    """Why a summary is not a usable target (None when it is)."""
    s = summary.strip()
    if len(s) < MIN_SUMMARY_CHARS:
        return "summary shorter than 30 characters"
    if not s[0].isupper():
        return "summary does not start with a capital letter"
    if s.endswith("...") or s[-1] not in ".!?":
        return "summary does not end with . ! or ?"
    if _GENERIC_START.match(s):
        return "summary starts with See/Refer/TODO/Deprecated/FIXME"
    return None


def _body_lines(code: str) -> int:
    count = 0
    for line in code.splitlines():
        s = line.strip()
        if s and s not in ("{", "}", "};", "end", "})", "});", ")"):
            count += 1
    return count


def function_rejection(record: FunctionRecord) -> str | None:
    """Why a function record is dropped by the study's preprocessing (None when it is kept)."""
    reason = summary_rejection(record.summary)
    if reason:
        return reason
    short = record.func_name.rsplit(".", 1)[-1].rsplit("::", 1)[-1]
    if "test" in short.lower():
        return "test function"
    if short in _TRIVIAL_NAMES.get(record.language, ()) and not (short == "__init__" and _body_lines(record.code) >= 10):
        return "constructor or trivial override"
    if len(record.code) > MAX_CODE_CHARS:
        return "code longer than 4000 characters"
    if _body_lines(record.code) < MIN_BODY_LINES:
        return "body shorter than 3 lines"
    return None


# ---------------------------------------------------------------- commits

COMMIT_EXTENSIONS = {
    "Python": (".py",), "Java": (".java",), "JavaScript": (".js", ".mjs", ".cjs", ".jsx"),
    "PHP": (".php",), "Ruby": (".rb",), "Go": (".go",),
}
MAX_DIFF_CHARS = 6000
MAX_CONTENTS_CHARS = 30000
_VENDOR_PATH = re.compile(r"(^|/)(vendor|_vendor|third_party|node_modules|dist|bower_components|generated)/|\.min\.js$")
_BOT = re.compile(r"\[bot\]|dependabot|renovate|github-actions|greenkeeper|snyk-bot|pre-commit-ci|imgbot|"
                  r"allcontributors", re.IGNORECASE)
_SUBJECT_DROP = re.compile(
    r"^(merge\b|revert\b|wip\b|fixup!|squash!|bump\b|bumped\b|release\b|released\b|releasing\b|version\b|"
    r"prepare (for )?release|tag\b|tagged\b|initial commit|v?\d+\.\d+)",
    re.IGNORECASE,
)
_WIP = re.compile(r"\bWIP\b")
_VERSION_MENTION = re.compile(r"\bversion\s+v?\d+\.\d+|\bv?\d+\.\d+(\.\d+)?\s+version\b", re.I)
_WEB_EDITOR = re.compile(r"^(update|create|delete|add|rename) [\w./-]+\.\w+$", re.IGNORECASE)
_ISSUE_ONLY = re.compile(r"^(fix(es|ed)?|close[sd]?|resolve[sd]?|ref(s)?|see)?\s*:?\s*(#\d+|gh-\d+|[A-Z][A-Z0-9]+-\d+)"
                         r"([\s,]+(#\d+|gh-\d+|[A-Z][A-Z0-9]+-\d+))*\.?$", re.IGNORECASE)
_STARTS_WITH_WORD = re.compile(r"^[A-Za-z][A-Za-z'-]*\b")


def subject_rejection(subject: str) -> str | None:
    """Why a commit subject is not a usable target (None when it is)."""
    s = subject.strip()
    if not 10 <= len(s) <= 100:
        return "subject not 10-100 characters"
    if not _STARTS_WITH_WORD.match(s):
        return "subject does not start with a word"
    if _SUBJECT_DROP.match(s) or _WIP.search(s):
        return "merge, revert, WIP, release or version subject"
    if _VERSION_MENTION.search(s):
        return "merge, revert, WIP, release or version subject"
    if _WEB_EDITOR.match(s):
        return "web-editor default subject"
    if _ISSUE_ONLY.match(s):
        return "subject is only an issue reference"
    return None


def commit_rejection(record: CommitRecord, author: str = "") -> str | None:
    """Why a commit record is dropped by the CommitPackFT-style filters (None when it is kept)."""
    reason = subject_rejection(record.subject)
    if reason:
        return reason
    if author and _BOT.search(author):
        return "bot author"
    path = record.new_file or record.old_file
    exts = COMMIT_EXTENSIONS.get(record.lang)
    if exts is None:
        return f"language {record.lang} not supported"
    if not path.lower().endswith(exts):
        return "file extension does not match the language"
    if _VENDOR_PATH.search(path):
        return "vendored or generated path"
    if not record.diff.strip():
        return "empty diff"
    if len(record.diff) > MAX_DIFF_CHARS:
        return "diff longer than 6000 characters"
    if "\0" in record.diff or "\nBinary files " in record.diff or record.diff.startswith("Binary files "):
        return "binary diff"
    if len(record.old_contents) > MAX_CONTENTS_CHARS or len(record.new_contents) > MAX_CONTENTS_CHARS:
        return "file contents longer than 30000 characters"
    return None


# ---------------------------------------------------------------- changelog pairs

MIN_ENTRY_CHARS = 20
MAX_ENTRY_CHARS = 500
_VERSION_HEADER = re.compile(
    r"^(?:v(?:ersion)?\s*)?\d+(?:\.\d+)+(?:[-.\w]*)?(?:\s*[-(:].*)?$|^(?:un)?released\b|^release date\b|"
    r"^\d{4}-\d{2}-\d{2}$|^(?:bump|bumped|update|upgrade)(?:d)? (?:the )?version\b",
    re.IGNORECASE,
)
_REF = re.compile(r"(?:#|gh-)?\d+", re.IGNORECASE)


def _normalised(text: str) -> str:
    """Case-, space- and punctuation-insensitive, issue numbers ignored."""
    return " ".join(re.sub(r"[\W_]+", " ", _REF.sub(" ", text)).lower().split())


def entry_rejection(entry: str, subject: str = "") -> str | None:
    """Why a changelog entry is not a usable target (None when it is)."""
    s = " ".join(entry.split())
    if not MIN_ENTRY_CHARS <= len(s) <= MAX_ENTRY_CHARS:
        return "entry not 20-500 characters"
    letters = [c for c in s if c.isalpha()]
    ascii_letters = sum(c.isascii() for c in letters)
    if ascii_letters < 12 or ascii_letters < 0.9 * len(letters):
        return "entry has too few ASCII letters"
    if _VERSION_HEADER.match(s):
        return "entry is a version header, release line or bump"
    if subject and _normalised(s) == _normalised(subject):
        return "entry repeats the commit subject"
    return None


def changelog_rejection(record: ChangelogRecord) -> str | None:
    """Why a changelog pair is dropped (None when it is kept)."""
    reason = entry_rejection(record.entry, record.subject)
    if reason:
        return reason
    if "diff --git " not in record.diff:
        return "no code diff"
    return None


# ---------------------------------------------------------------- deduplication

R = TypeVar("R", CommitRecord, FunctionRecord, ChangelogRecord)
_INDEX_LINE = re.compile(r"(?m)^index [0-9a-f]+\.\.[0-9a-f]+.*\n")


def dedup_key(record: CommitRecord | FunctionRecord | ChangelogRecord) -> str:
    if isinstance(record, ChangelogRecord):  # the same entry added twice (a docs copy, a backport) counts once
        return hashlib.sha1(" ".join(record.entry.lower().split()).encode("utf-8", "surrogatepass")).hexdigest()
    if isinstance(record, CommitRecord):
        text = _INDEX_LINE.sub("", record.diff)
    else:
        text = record.code
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def deduplicate(records: Iterable[R]) -> Iterator[R]:
    """Drop records whose diff (ignoring the index line), code or changelog entry was already seen, and
    repeated subjects within a repository (first kept)."""
    seen: set[str] = set()
    subjects: set[tuple[str, str]] = set()
    for record in records:
        key = dedup_key(record)
        if key in seen:
            continue
        if isinstance(record, CommitRecord):
            skey = (record.repos, record.subject.strip().lower())
            if skey in subjects:
                continue
            subjects.add(skey)
        seen.add(key)
        yield record
