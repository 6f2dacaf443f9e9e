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
- ``keep(path)`` may say which files' hunks are worth parsing: the others keep their header facts and line
  counts (counted without building lines), which is how a lockfile or a minified bundle costs almost nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple

__all__ = ["Line", "Hunk", "FilePatch", "LogEntry", "parse_patch", "split_log"]


class Line(NamedTuple):
    """One added or removed line: its number (new file for added, old file for removed) and its text."""

    number: int
    text: str


@dataclass(frozen=True, slots=True)
class Hunk:
    """One ``@@`` block. ``body`` is the raw lines in order, each with its ``+``/``-``/space prefix."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str  # the function context git prints after the header ("def redirect(", "class Config")
    added: tuple[Line, ...]
    removed: tuple[Line, ...]
    body: tuple[str, ...]

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


@dataclass(frozen=True, slots=True)
class FilePatch:
    """One file of a patch. ``status``: added, modified, deleted, renamed, copied or type_changed.

    ``lines_added``/``lines_removed`` are always counted; ``hunks`` is empty when the file is binary, has no
    text change, or was not wanted by ``keep`` (then ``parsed`` is False).
    """

    path: str
    old_path: str | None
    status: str
    is_binary: bool = False
    hunks: tuple[Hunk, ...] = ()
    lines_added: int = 0
    lines_removed: int = 0
    parsed: bool = True
    combined: bool = False  # a ``diff --cc`` of a merge: removed lines carry the first parent's numbers

    @property
    def added_lines(self) -> tuple[Line, ...]:
        if len(self.hunks) == 1:
            return self.hunks[0].added
        return tuple(line for hunk in self.hunks for line in hunk.added)

    @property
    def removed_lines(self) -> tuple[Line, ...]:
        if len(self.hunks) == 1:
            return self.hunks[0].removed
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


_HUNK = re.compile(r"^@@+ -(\d+)(?:,(\d+))? (?:-\d+(?:,\d+)? )*\+(\d+)(?:,(\d+))? @@+ ?(.*)$")
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


def _parse_hunks(lines: list[str], start: int, end: int, parents: int) -> tuple[tuple[Hunk, ...], int, int]:
    """Hunks of one file from ``lines[start:end]``; returns (hunks, lines added, lines removed)."""
    hunks: list[Hunk] = []
    new_line = tuple.__new__
    total_added = total_removed = 0
    i = start
    while i < end:
        header = lines[i]
        if not header.startswith("@@"):
            i += 1
            continue
        match = _HUNK.match(header)
        if match is None:
            i += 1
            continue
        old_start = int(match.group(1))
        old_count = 1 if match.group(2) is None else int(match.group(2))
        new_start = int(match.group(3))
        new_count = 1 if match.group(4) is None else int(match.group(4))
        section = match.group(5).strip()
        added: list[Line] = []
        removed: list[Line] = []
        old_no, new_no = old_start, new_start
        old_left, new_left = old_count, new_count
        j = i + 1
        if parents == 1:
            while j < end and (old_left > 0 or new_left > 0):
                line = lines[j]
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
                j += 1
        else:  # combined diff: one prefix column per parent; read until the next hunk or a non-body line
            while j < end:
                line = lines[j]
                if line[:1] == "\\":
                    j += 1
                    continue
                marks, text = line[:parents], line[parents:]
                if line[:2] == "@@" or len(marks) < parents or marks.strip(" +-"):
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
                j += 1
        if j < end and lines[j][:1] == "\\":
            j += 1
        hunks.append(Hunk(old_start, old_count, new_start, new_count, section, tuple(added), tuple(removed),
                          tuple(lines[i + 1:j])))
        total_added += len(added)
        total_removed += len(removed)
        i = j
    return tuple(hunks), total_added, total_removed


def _count_only(lines: list[str], start: int, end: int) -> tuple[int, int]:
    """Added/removed line counts of a file whose hunks are not wanted (no Line objects built)."""
    added = removed = 0
    in_body = False
    for k in range(start, end):
        head = lines[k][:1]
        if head == "@":
            in_body = True
        elif in_body and head == "+":
            added += 1
        elif in_body and head == "-":
            removed += 1
    return added, removed


def _parse_file(lines: list[str], start: int, end: int, keep: Callable[[str], bool] | None) -> FilePatch:
    first = lines[start]
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
    i = start + 1
    while i < end:
        line = lines[i]
        if line.startswith("@@"):
            break
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
        i += 1
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
    if combined and i < end:
        parents = max(2, len(lines[i]) - len(lines[i].lstrip("@")) - 1)  # "@@@" = two parents
    wanted = not binary and (keep is None or keep(path))
    if binary:
        return FilePatch(path, previous, status, True, (), 0, 0, True, combined)
    if not wanted:
        added, removed = _count_only(lines, i, end)
        return FilePatch(path, previous, status, False, (), added, removed, False, combined)
    hunks, added, removed = _parse_hunks(lines, i, end, parents)
    return FilePatch(path, previous, status, False, hunks, added, removed, True, combined)


def parse_patch(text: str, keep: Callable[[str], bool] | None = None) -> tuple[FilePatch, ...]:
    """Every file of a unified diff, in order. Text before the first ``diff --git`` line is ignored.

    ``keep(path)`` returning False skips building that file's hunks (its counts are still exact).
    """
    if not text:
        return ()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    starts = [k for k, line in enumerate(lines)
              if line[:5] == "diff " and (line.startswith("diff --git ") or line.startswith("diff --cc ")
                                          or line.startswith("diff --combined "))]
    files = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        files.append(_parse_file(lines, start, end, keep))
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
