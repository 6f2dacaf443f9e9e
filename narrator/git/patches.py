"""The diff text of many commits from one streaming git process, for the evidence stage, plus file contents.

``read_patches`` yields ``(sha, patch text)`` per commit (``-U3``, renames found, merges against their first
parent), leaving out files whose diff is never evidence (lockfiles, minified, vendored, generated folders): by
their path, here (as glob pathspecs they would multiply git's time). ``read_blobs`` reads ``rev:path`` contents through one
``git cat-file --batch`` (the changelog as it stood after a commit, for the section an entry sits under).
Read-only, like every git command of narrator.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator, Sequence

from narrator.git.text import decode
from narrator.git.walker import _LOG_CONFIG, Repository, git_output

_MARK = "\x00\x01narrator-commit "
# Files whose diff is never evidence (lockfiles, minified, vendored, generated folders), as git's
# ``:(exclude,glob)**/...`` pathspecs would say; matched here rather than by git, where each glob pathspec
# multiplies the time of ``git log -p`` (13 of them: 5.4 s of git cpu for 400 commits of a generated history
# against 0.3 s without).
_NOISE = re.compile(
    r"(?:^|/)(?:[^/]*\.lock|package-lock\.json|pnpm-lock\.yaml|go\.sum|[^/]*\.min\.js|[^/]*\.min\.css|[^/]*\.map"
    r"|[^/]*\.svg|[^/]*\.pb\.go)$"
    r"|(?:^|/)(?:vendor|node_modules|dist|third_party)/")
MAX_PATCH_BYTES = 400_000  # per commit: a bigger diff is a generated or bulk change; its start is enough
_RAW_LIMIT = 16 * MAX_PATCH_BYTES  # read of one commit's diff before the noise is left out (a lockfile's is long)
_FILE = re.compile(rb"^diff --git ", re.M)


def read_patches(repo: Repository, shas: Sequence[str], background: bool = False) -> Iterator[tuple[str, str]]:
    """``(sha, unified diff text)`` for exactly these commits, streamed from one git process, without the
    files whose diff is never evidence (``_NOISE``) and cut at ``MAX_PATCH_BYTES`` (``background``: git at a
    lower priority, ``git_output``)."""
    if not shas:
        return
    args = [*_LOG_CONFIG, "log", "--no-walk=unsorted", "--stdin", "-p", "-U3", "-M", "--diff-merges=first-parent",
            "--no-color", "--no-ext-diff", "--no-textconv", "--format=%x00%x01narrator-commit %H"]
    pending = b""
    current: str | None = None
    parts: list[bytes] = []
    size = 0
    mark = _MARK.encode()

    def finish() -> tuple[str, str] | None:
        if current is None:
            return None
        return current, decode(_without_noise(b"".join(parts)))

    for data in git_output(repo.root, args, stdin=("\n".join(shas) + "\n").encode("ascii"), background=background):
        pending += data
        while True:
            at = pending.find(mark)
            if at < 0:
                keep = len(pending) - len(mark)
                if keep > 0:
                    if size < _RAW_LIMIT:
                        parts.append(pending[:keep])
                        size += keep
                    pending = pending[keep:]
                break
            if size < _RAW_LIMIT:
                parts.append(pending[:at])
            done = finish()
            if done is not None:
                yield done
            end = pending.find(b"\n", at)
            if end < 0:
                pending = pending[at:]  # the sha is not complete yet
                break
            current = pending[at + len(mark):end].decode("ascii", "replace").strip()
            parts, size = [], 0
            pending = pending[end + 1:]
    if size < _RAW_LIMIT:
        parts.append(pending)
    done = finish()
    if done is not None:
        yield done


def _without_noise(raw: bytes) -> bytes:
    """One commit's diff without the files of ``_NOISE``, cut at ``MAX_PATCH_BYTES``."""
    starts = [m.start() for m in _FILE.finditer(raw)]
    if not starts:
        return raw[:MAX_PATCH_BYTES]
    kept = [raw[:starts[0]]]
    for begin, end in zip(starts, starts[1:] + [len(raw)]):
        block = raw[begin:end]
        if not _is_noise(block):
            kept.append(block)
    return b"".join(kept)[:MAX_PATCH_BYTES]


def _is_noise(block: bytes) -> bool:
    """Whether a file's diff block is of a file that is never evidence: its path after the commit (before it,
    for a deletion), read from the ``+++``/``---``/``rename to`` lines or else the ``diff --git`` line."""
    head = block[:2048].decode("utf-8", "replace").splitlines()[:8]
    path = None
    for line in head:
        if line.startswith("+++ b/") or line.startswith("rename to ") or line.startswith("copy to "):
            path = line.split(" ", 2)[-1] if not line.startswith("+++ b/") else line[6:]
            break
    if path is None:
        for line in head:
            if line.startswith("--- a/"):
                path = line[6:]
                break
    if path is None:
        first = head[0] if head else ""
        match = re.match(r"diff --git a/(.*) b/(.*)$", first)
        path = match.group(2) if match else first
    return bool(_NOISE.search(path.rstrip("\t").strip('"')))


def read_blobs(repo: Repository, specs: Iterable[tuple[str, str]], background: bool = False
               ) -> dict[tuple[str, str], str]:
    """The text of each ``(rev, path)`` (missing ones are left out), through one ``git cat-file --batch``."""
    wanted = list(dict.fromkeys(specs))
    if not wanted:
        return {}
    stdin = "".join(f"{rev}:{path}\n" for rev, path in wanted).encode("utf-8", "surrogateescape")
    raw = b"".join(git_output(repo.root, ["cat-file", "--batch"], stdin=stdin, background=background))
    out: dict[tuple[str, str], str] = {}
    at = 0
    for spec in wanted:
        end = raw.find(b"\n", at)
        if end < 0:
            break
        header = raw[at:end].split()
        at = end + 1
        if len(header) < 3 or header[-1] == b"missing":
            continue
        length = int(header[2])
        if header[1] == b"blob":
            out[spec] = decode(raw[at:at + length])
        at += length + 1
    return out
