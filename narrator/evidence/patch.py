"""Parsing unified diff text (``git diff``/``git show``/``git log -p`` output) into plain per-file patches.

One job: text in, frozen ``FilePatch`` records out. Every added and removed line keeps its line number (in the
new file for added lines, in the old file for removed ones) and every hunk keeps the function context git prints
after the second ``@@``. Nothing here runs git or reads files.

The parser is strict about structure and lenient about content:

- hunk bodies are read by the counts in their ``@@ -a,b +c,d @@`` header, so a body line that looks like a
  header (``+++ b/x`` as an added line) is never misread, and whatever follows a patch (the next commit's
  header in ``git log -p``) is never taken as context;
- ``-U0`` and ``-U3`` (any context), several files, renames, copies, mode changes, binary files, quoted paths
  (``"a/na\\303\\257ve.txt"``), ``\\ No newline at end of file`` and combined merge diffs (``diff --cc``)
  are understood;
- parsing is cheap: a file is cut into hunks by regular expressions and its line counts are counted, but the
  numbered ``Line`` records are built only when ``Hunk.added``/``removed`` are read; ``keep(path)`` may drop
  the hunks of files nobody will read (lockfiles, minified bundles).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterator, NamedTuple

__all__ = ["Line", "Hunk", "FilePatch", "LogEntry", "parse_patch", "split_log"]


class Line(NamedTuple):
    """One added or removed line: its number (new file for added, old file for removed) and its text."""

    number: int
    text: str


@dataclass(frozen=True, slots=True)
class Hunk:
    """One ``@@`` block. ``text`` is its body as git printed it (each line with its ``+``/``-``/space prefix).

    ``added``, ``removed``, ``body`` and ``context()`` are computed from ``text`` on each access (parsing stays
    cheap for the many hunks nobody reads line by line): read them once into a local when you loop.
    """

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str  # the function context git prints after the header ("def redirect(", "class Config")
    text: str
    parents: int = 1

    @property
    def body(self) -> tuple[str, ...]:
        return tuple(self.text.split("\n")) if self.text else ()

    @property
    def added(self) -> tuple[Line, ...]:
        return _numbered(self)[0]

    @property
    def removed(self) -> tuple[Line, ...]:
        return _numbered(self)[1]

    @property
    def added_text(self) -> str:
        """The added lines' text (without the prefix), joined by newlines: for one fast regex search."""
        if self.parents != 1:
            return "\n".join(line.text for line in self.added)
        return "\n".join([line[1:] for line in self.text.split("\n") if line[:1] == "+"])

    @property
    def removed_text(self) -> str:
        if self.parents != 1:
            return "\n".join(line.text for line in self.removed)
        return "\n".join([line[1:] for line in self.text.split("\n") if line[:1] == "-"])

    def context(self) -> tuple[Line, ...]:
        """The unchanged lines, numbered in the new file."""
        out = []
        number = self.new_start
        for line in self.body:
            head = line[:1]
            if head == "+":
                number += 1
            elif head == " " or line == "":
                out.append(Line(number, line[1:]))
                number += 1
        return tuple(out)




@lru_cache(maxsize=4096)
def _numbered(hunk: Hunk) -> tuple[tuple[Line, ...], tuple[Line, ...]]:
    """(added, removed) lines of a hunk with their numbers, read by the header's counts."""
    new_line = tuple.__new__
    added: list[Line] = []
    removed: list[Line] = []
    old_no, new_no = hunk.old_start, hunk.new_start
    if hunk.parents == 1:
        old_left, new_left = hunk.old_count, hunk.new_count
        for line in hunk.text.split("\n"):
            if old_left <= 0 and new_left <= 0:
                break
            head = line[:1]
            if head == "+":
                added.append(new_line(Line, (new_no, line[1:])))
                new_no += 1
                new_left -= 1
            elif head == "-":
                removed.append(new_line(Line, (old_no, line[1:])))
                old_no += 1
                old_left -= 1
            elif head == " " or line == "":
                old_no += 1
                new_no += 1
                old_left -= 1
                new_left -= 1
            elif head != "\\":
                break  # a truncated or mangled patch: stop at the first line that cannot be a body line
        return tuple(added), tuple(removed)
    parents = hunk.parents  # combined diff: one prefix column per parent
    for line in hunk.text.split("\n"):
        if line[:1] == "\\":
            continue
        marks, text = line[:parents], line[parents:]
        if len(marks) < parents or marks.strip(" +-"):
            break
        if "-" in marks:
            removed.append(new_line(Line, (old_no if marks[0] == "-" else 0, text)))
            if marks[0] == "-":
                old_no += 1
        elif "+" in marks:
            added.append(new_line(Line, (new_no, text)))
            new_no += 1
            if marks[0] == " ":
                old_no += 1
        else:
            new_no += 1
            old_no += 1
    return tuple(added), tuple(removed)


@dataclass(frozen=True, slots=True)
class FilePatch:
    """One file of a patch. ``status``: added, modified, deleted, renamed, copied or type_changed.

    ``lines_added``/``lines_removed`` are counted when the patch is parsed. ``hunks`` is built from ``body``
    (the file's raw hunk text) on each access, so files nobody reads cost only their header: read it once
    into a local. It is empty when the file is binary, has no text change, or was not wanted by ``keep``
    (then ``parsed`` is False). The last parses are remembered (a small LRU memo), so several readers of one
    commit share one parse.
    """

    path: str
    old_path: str | None
    status: str
    is_binary: bool = False
    lines_added: int = 0
    lines_removed: int = 0
    parsed: bool = True
    combined: bool = False  # a ``diff --cc`` of a merge: removed lines carry the first parent's numbers
    body: str = field(default="", repr=False)  # from the first "@@" line to the end of the file's patch
    parents: int = 1

    @property
    def hunks(self) -> tuple[Hunk, ...]:
        return _hunks_of(self.body, self.parents) if self.body else ()

    @property
    def added_lines(self) -> tuple[Line, ...]:
        return tuple(line for hunk in self.hunks for line in hunk.added)

    @property
    def removed_lines(self) -> tuple[Line, ...]:
        return tuple(line for hunk in self.hunks for line in hunk.removed)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One commit of ``git log -p`` output (default ``medium`` format): its sha, message and files."""

    sha: str
    header: str  # the lines before the diff (Author:, Date:, the indented message)
    message: str  # the message with git's four-space indent removed
    files: tuple[FilePatch, ...]

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0].strip()

    @property
    def body(self) -> str:
        parts = self.message.split("\n", 1)
        return parts[1].strip() if len(parts) > 1 else ""


_PREFIXES = ("a/", "b/", "i/", "w/", "c/", "o/", "1/", "2/")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_DIFF_START = re.compile(r"^diff --(?:git|cc|combined) ", re.M)


def _unquote(raw: str) -> str:
    """A path as git prints it: plain, or C-quoted with octal escapes for non-ASCII bytes."""
    if len(raw) < 2 or raw[0] != '"' or raw[-1] != '"':
        return raw
    out = bytearray()
    i, body = 0, raw[1:-1]
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if len(body[i + 1:i + 4]) == 3 and all(c in "01234567" for c in body[i + 1:i + 4]):
                out.append(int(body[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, ord(nxt) if ord(nxt) < 128 else 63))
            i += 2
            continue
        out.extend(ch.encode("utf-8"))
        i += 1
    return out.decode("utf-8", "replace")


def _strip_prefix(path: str) -> str:
    return path[2:] if path[:2] in _PREFIXES else path


def _header_path(value: str) -> str | None:
    """The path of a ``---``/``+++`` line (None for /dev/null)."""
    value = value.rstrip("\r")
    if value.endswith("\t"):
        value = value[:-1]  # git marks a name containing spaces with a trailing tab
    if value.startswith('"'):
        value = _unquote(value if value.endswith('"') else value.split("\t", 1)[0])
    elif "\t" in value:
        value = value.split("\t", 1)[0]  # GNU diff appends a timestamp after a tab
    if value == "/dev/null":
        return None
    return _strip_prefix(value)


def _git_line_paths(rest: str) -> tuple[str, str]:
    """Both paths of ``diff --git a/X b/Y`` (used only when no ---/+++/rename lines name them)."""
    rest = rest.rstrip("\r")
    if rest.startswith('"'):
        end = rest.find('" ', 1)
        while end != -1 and rest[end - 1] == "\\":
            end = rest.find('" ', end + 1)
        if end != -1:
            return _strip_prefix(_unquote(rest[:end + 1])), _strip_prefix(_unquote(rest[end + 2:]))
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[2:half] == rest[half + 3:]:
        return _strip_prefix(rest[:half]), _strip_prefix(rest[half + 1:])  # same path twice: unambiguous
    cut = rest.find(" b/")
    if cut != -1:
        return _strip_prefix(rest[:cut]), _strip_prefix(rest[cut + 1:])
    return _strip_prefix(rest), _strip_prefix(rest)


_HUNK_HEADER = re.compile(r"@@+ -(\d+)(?:,(\d+))? (?:-\d+(?:,\d+)? )*\+(\d+)(?:,(\d+))? @@+ ?(.*)")
_NOT_BODY = re.compile(r"\n[^ +\-\\\n@]")


def _parse_hunks(block: str, start: int, parents: int, count: bool = True) -> tuple[tuple[Hunk, ...], int, int]:
    """Hunks of one file's text from ``start`` (a line beginning with ``@@``); returns (hunks, added, removed)."""
    heads = []
    at = start
    while at != -1:  # str.find: C speed, no per-line Python
        heads.append(at)
        at = block.find("\n@@", at + 1)
        at = at + 1 if at != -1 else -1
    hunks = []
    added = removed = 0
    for n, head in enumerate(heads):
        line_end = block.find("\n", head)
        header = block[head:line_end if line_end != -1 else len(block)]
        m = _HUNK_HEADER.match(header)
        if m is None:
            continue
        if line_end == -1:
            text = ""
        elif n + 1 < len(heads):
            text = block[line_end + 1:heads[n + 1] - 1]
        else:
            text = block[line_end + 1:].rstrip("\n")
            junk = _NOT_BODY.search(text) if parents == 1 else None
            if junk is not None:  # whatever follows the patch (a commit header) is not part of it
                text = text[:junk.start()]
        old_count = 1 if m.group(2) is None else int(m.group(2))
        new_count = 1 if m.group(4) is None else int(m.group(4))
        hunk = Hunk(int(m.group(1)), old_count, int(m.group(3)), new_count, m.group(5).strip(), text, parents)
        if not count:
            pass
        elif parents == 1:
            first = text[:1]
            added += text.count("\n+") + (first == "+")
            removed += text.count("\n-") + (first == "-")
        else:
            plus, minus = _numbered(hunk)
            added += len(plus)
            removed += len(minus)
        hunks.append(hunk)
    return tuple(hunks), added, removed


@lru_cache(maxsize=1024)
def _hunks_of(body: str, parents: int) -> tuple[Hunk, ...]:
    """A file's hunks, remembered for the last files asked for (one commit's readers share one parse)."""
    return _parse_hunks(body, 0, parents, count=False)[0]


def forget_hunks() -> None:
    """Forget the hunks remembered (a commit's readers are done with it): the memo would otherwise keep the text
    of up to 1,024 files' diffs (a commit's diff is read up to 400 KB) after their commits are judged."""
    _hunks_of.cache_clear()


def _parse_file(block: str, keep: Callable[[str], bool] | None) -> FilePatch:
    first_hunk = block.find("\n@@")
    header = block if first_hunk == -1 else block[:first_hunk]
    lines = header.split("\n")
    first = lines[0]
    parents = 1
    combined = False
    old_path = new_path = None
    status = "modified"
    binary = False
    saw_minus = saw_plus = False
    old_mode = new_mode = None
    rename_from = rename_to = None
    if first.startswith("diff --git "):
        git_old, git_new = _git_line_paths(first[11:])
    else:  # diff --cc path / diff --combined path
        combined = True
        git_old = git_new = _unquote(first.split(" ", 2)[2].rstrip("\r"))
    for line in lines[1:]:
        if line.startswith("--- "):
            old_path = _header_path(line[4:])
            saw_minus = True
        elif line.startswith("+++ "):
            new_path = _header_path(line[4:])
            saw_plus = True
        elif line.startswith("new file mode"):
            status = "added"
        elif line.startswith("deleted file mode"):
            status = "deleted"
        elif line.startswith("rename from "):
            rename_from = _unquote(line[12:].rstrip("\r"))
            status = "renamed"
        elif line.startswith("rename to "):
            rename_to = _unquote(line[10:].rstrip("\r"))
        elif line.startswith("copy from "):
            rename_from = _unquote(line[10:].rstrip("\r"))
            status = "copied"
        elif line.startswith("copy to "):
            rename_to = _unquote(line[8:].rstrip("\r"))
        elif line.startswith("old mode "):
            old_mode = line[9:].strip()
        elif line.startswith("new mode "):
            new_mode = line[9:].strip()
        elif line.startswith("Binary files ") or line.startswith("GIT binary patch"):
            binary = True
            if line.startswith("Binary files "):
                body = line[13:].rsplit(" differ", 1)[0]
                if body.startswith("/dev/null and "):
                    status = "added"
                elif body.endswith(" and /dev/null"):
                    status = "deleted"
    if old_mode and new_mode and old_mode[:2] != new_mode[:2]:
        status = "type_changed"
    if saw_plus and new_path is None:
        status = "deleted"
    elif saw_minus and old_path is None:
        status = "added"
    if status == "deleted":
        path = old_path or rename_from or git_old
        previous = None
    else:
        path = new_path or rename_to or git_new
        previous = old_path or rename_from or (git_old if status in ("renamed", "copied") else None)
    if previous == path and status not in ("renamed", "copied"):
        previous = None
    if binary:
        return FilePatch(path, previous, status, True, 0, 0, True, combined)
    if first_hunk == -1:
        return FilePatch(path, previous, status, False, 0, 0, True, combined)
    body = block[first_hunk + 1:]
    if combined:
        parents = max(2, len(body[:12]) - len(body[:12].lstrip("@")) - 1)  # "@@@" = two parents
        _, added, removed = _parse_hunks(body, 0, parents)
    else:
        junk = _NOT_BODY.search(body)
        if junk is not None:  # whatever follows the patch (a commit header) is not part of it
            body = body[:junk.start()]
        added = body.count("\n+")
        removed = body.count("\n-")
    if keep is not None and not keep(path):
        return FilePatch(path, previous, status, False, added, removed, False, combined)
    return FilePatch(path, previous, status, False, added, removed, True, combined, body, parents)


def parse_patch(text: str, keep: Callable[[str], bool] | None = None) -> tuple[FilePatch, ...]:
    """Every file of a unified diff, in order. Text before the first ``diff --git`` line is ignored.

    ``keep(path)`` returning False drops that file's hunks (its counts are still exact).
    """
    if not text:
        return ()
    starts = []
    at = 0 if text.startswith("diff --") else text.find("\ndiff --")
    while at != -1:
        begin = at if text.startswith("diff --", at) else at + 1
        if text.startswith(("diff --git ", "diff --cc ", "diff --combined "), begin):
            starts.append(begin)
        at = text.find("\ndiff --", begin + 1)
    files = []
    for n, start in enumerate(starts):
        end = starts[n + 1] - 1 if n + 1 < len(starts) else len(text)
        files.append(_parse_file(text[start:end].rstrip("\n"), keep))
    return tuple(files)


_COMMIT_LINE = re.compile(r"^commit ([0-9a-f]{7,64})\b", re.M)


def split_log(text: str, keep: Callable[[str], bool] | None = None) -> Iterator[LogEntry]:
    """Commits of ``git log -p`` output in git's default (medium) format, one at a time."""
    marks = list(_COMMIT_LINE.finditer(text))
    for n, mark in enumerate(marks):
        end = marks[n + 1].start() if n + 1 < len(marks) else len(text)
        chunk = text[mark.end():end]
        diff_at = _DIFF_START.search(chunk)
        header = chunk if diff_at is None else chunk[:diff_at.start()]
        message_lines = [line[4:] for line in header.split("\n") if line.startswith("    ") or line == "    "]
        files = parse_patch(chunk[diff_at.start():], keep) if diff_at else ()
        yield LogEntry(mark.group(1), header, "\n".join(message_lines).strip("\n"), files)
