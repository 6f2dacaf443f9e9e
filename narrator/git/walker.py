"""Read-only walk of a git history into ``CommitFacts``, fast enough for the heuristic engine.

Why not PyDriller per commit: it diffs each commit separately (~55 commits/s). Here one streaming
``git log -z --raw --numstat`` process yields every commit's files and line counts at close to git's own
speed, and memory stays bounded by the facts kept, not by git's output. Facts already in the cache are
not asked for again: a cheap ``git log --format=%H`` lists the window, and only the missing commits are
read (``--no-walk --stdin``).

Nothing here writes to the repository: every git command is a read (log, rev-parse, show, cat-file).
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import re
import subprocess
import sys
import threading
from array import array
from dataclasses import dataclass, replace
from functools import lru_cache
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from narrator.errors import RepositoryError, RevisionError
from narrator.evidence.sharing import PATH_MEMO
from narrator.git.facts import ChangeType, CommitFacts, FileChange, FileDiff, Person, person, shared_zone
from narrator.git.text import clean_line, clean_text, decode

log = logging.getLogger(__name__)

_HEADER_FIELDS = 10  # sha, parents, aN, aE, cN, cE, aI, cI, trailers, message
_FORMAT = "%H%x00%P%x00%aN%x00%aE%x00%cN%x00%cE%x00%aI%x00%cI%x00%(trailers:unfold,separator=%x1f)%x00%B%x00END"
_NUMSTAT = re.compile(rb"^(\d+|-)\t(\d+|-)\t(.*)$", re.S)
_SHA = re.compile(rb"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REVERT_SHA = re.compile(r"This reverts commit ([0-9a-f]{7,64})")
# What a revert's subject may call the change it undoes, to its end: "cli test change", "the accidental commit",
# "dependency bump (#12)" (group 1: the change without its article; the heuristic sentence names it so).
_NAMED_CHANGE = (r"(?:(?:the|my|this|that|a)\s+)?((?:[\w./-]+\s+){0,3}(?:change|commit|fix|update|bump)s?)"
                 r"\s*(?:\(#?\d+\))?\.?\s*$")
NAMED_CHANGE = re.compile(_NAMED_CHANGE, re.I)
# An undo of earlier commits: git's `Revert "subject"`, a Conventional `revert:`, or a revert naming what it undoes
# (a sha, a pull request, "the last commit", a named change). "Revert back to v4 behavior for ..." is a change of
# behaviour.
_REVERT_SUBJECT = re.compile(
    r"""^(?:revert(?:[:(!]|\s+["'\u201c`]|\s+(?:(?:pr|pull request|commit|merge request|mr)\s*)?[#!]?\d+\b|"""
    r"""\s+[0-9a-f]{7,40}\b|\s+(?:the\s+)?(?:last|previous)\s+(?:change|commit)s?\b"""
    r"""|\s+""" + _NAMED_CHANGE + r""")|reverts?\s+[\w.-]+/[\w.-]+#\d+)""",
    re.I)

_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",  # never take the index lock for a read (keeps the repository untouched)
    "LC_ALL": "C",
    "GIT_PAGER": "cat",
    "GIT_CONFIG_NOSYSTEM": "1",
}
_LOG_CONFIG = ["-c", "core.quotepath=off", "-c", "i18n.logOutputEncoding=UTF-8", "-c", "log.showSignature=false",
               "-c", "diff.renames=true", "-c", "log.mailmap=true", "-c", "core.fsmonitor=false"]

LANGUAGES = {
    "py": "Python", "pyi": "Python", "java": "Java", "js": "JavaScript", "mjs": "JavaScript",
    "cjs": "JavaScript", "jsx": "JavaScript", "ts": "TypeScript", "tsx": "TypeScript", "go": "Go",
    "rb": "Ruby", "php": "PHP", "rs": "Rust", "c": "C", "h": "C", "cc": "C++", "cpp": "C++", "cxx": "C++",
    "hpp": "C++", "cs": "C#", "swift": "Swift", "kt": "Kotlin", "kts": "Kotlin", "scala": "Scala",
    "sh": "Shell", "bash": "Shell", "zsh": "Shell", "sql": "SQL", "html": "HTML", "htm": "HTML",
    "css": "CSS", "scss": "CSS", "less": "CSS", "vue": "Vue", "svelte": "Svelte", "md": "Markdown",
    "rst": "reStructuredText", "txt": "Text", "json": "JSON", "yaml": "YAML", "yml": "YAML",
    "toml": "TOML", "xml": "XML", "ini": "INI", "cfg": "INI", "lua": "Lua", "pl": "Perl", "r": "R",
    "dart": "Dart", "ex": "Elixir", "exs": "Elixir", "erl": "Erlang", "hs": "Haskell", "ml": "OCaml",
    "jl": "Julia", "m": "Objective-C", "mm": "Objective-C", "ipynb": "Jupyter", "tf": "Terraform",
    "proto": "Protocol Buffers", "gradle": "Gradle", "dockerfile": "Dockerfile",
}
_NAMED_LANGUAGES = {"dockerfile": "Dockerfile", "makefile": "Makefile", "gemfile": "Ruby", "rakefile": "Ruby"}


@lru_cache(maxsize=PATH_MEMO)  # paths repeat across a history's commits
def language_of(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1].lower()
    if name in _NAMED_LANGUAGES:
        return _NAMED_LANGUAGES[name]
    if "." not in name:
        return None
    return LANGUAGES.get(name.rsplit(".", 1)[-1])


def run_git(root: str | Path, args: Sequence[str], *, input: bytes | None = None, check: bool = True,
            timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a read-only git command in ``root`` and return its raw output."""
    env = {**os.environ, **_GIT_ENV}
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args], input=input, capture_output=True, env=env, timeout=timeout
        )
    except FileNotFoundError:
        raise _git_missing() from None
    except subprocess.TimeoutExpired:
        raise RepositoryError(f"git {_verb(args)} took longer than {timeout:.0f} s in {root}") from None
    if check and proc.returncode != 0:
        raise _git_failed(root, args, proc.stderr)
    return proc


def _git_missing() -> RepositoryError:
    return RepositoryError("git is not installed or not on PATH; install git and try again")


def _git_failed(root: str | Path, args: Sequence[str], stderr: bytes) -> RepositoryError:
    """One line for a git command that failed: ``git <verb> failed in <root>: <git's last line>``."""
    message = decode(stderr).strip().splitlines()
    return RepositoryError(f"git {_verb(args)} failed in {root}: {message[-1] if message else 'unknown error'}")


def _open_error(path: Path, stderr: str) -> RepositoryError:
    """Why ``git rev-parse`` found no repository at ``path``: unreadable, not trusted by git, or none at all."""
    where = path.resolve()
    for folder in [where, *where.parents]:
        dot_git = folder / ".git"
        if os.path.lexists(dot_git):
            wanted = os.R_OK | (os.X_OK if dot_git.is_dir() else 0)
            if not os.access(dot_git, wanted) or "ermission denied" in stderr:
                return RepositoryError(f"{dot_git} is not readable (permission denied); fix its permissions "
                                       "or run narrate as a user who can read it")
            break
    if "dubious ownership" in stderr:
        return RepositoryError(f"git refuses {where}: it belongs to another user; if you trust it, run "
                               f"git config --global --add safe.directory {where}")
    if "ermission denied" in stderr:
        line = next((ln for ln in stderr.splitlines() if "ermission denied" in ln), "").strip()
        return RepositoryError(f"{where} is not readable: {line}; fix its permissions")
    return RepositoryError(f"{where} is not a git repository (or any of its parents); use --repo PATH to point at one")


@dataclass(frozen=True)
class Repository:
    """A located git repository (work tree or bare), plus the facts about it that the walk needs."""

    root: str  # the work tree, or the git directory of a bare repository
    git_dir: str
    bare: bool
    shallow: bool
    name: str
    key: str  # identifies this repository (and its .mailmap) in the cache

    @classmethod
    def open(cls, path: str | Path = ".") -> "Repository":
        path = Path(path)
        if not path.exists():
            raise RepositoryError(f"{path} does not exist")
        if not path.is_dir():
            raise RepositoryError(f"{path} is not a directory")
        proc = run_git(path, ["rev-parse", "--is-bare-repository", "--absolute-git-dir", "--git-common-dir",
                              "--is-shallow-repository"], check=False)
        if proc.returncode != 0:
            raise _open_error(path, decode(proc.stderr))
        bare_s, git_dir, common_dir, shallow_s = decode(proc.stdout).splitlines()[:4]
        bare = bare_s.strip() == "true"
        if bare:
            root = git_dir
        else:
            top = run_git(path, ["rev-parse", "--show-toplevel"], check=False)
            if top.returncode != 0:  # inside .git itself
                raise RepositoryError(f"{path.resolve()} is inside a .git directory; run from the work tree")
            root = decode(top.stdout).strip()
        common = Path(common_dir if os.path.isabs(common_dir) else Path(path, common_dir)).resolve()
        name = Path(root).name
        if bare and name.endswith(".git"):
            name = name[:-4]
        mailmap = _mailmap_digest(root, bare)
        key = hashlib.sha1(f"{common}\0{mailmap}".encode("utf-8", "surrogateescape")).hexdigest()[:20]
        return cls(root=root, git_dir=git_dir, bare=bare, shallow=shallow_s.strip() == "true", name=name, key=key)

    def has_commits(self) -> bool:
        return run_git(self.root, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], check=False).returncode == 0 \
            or bool(run_git(self.root, ["for-each-ref", "--count=1", "refs/heads", "refs/remotes"]).stdout.strip())

    def resolve(self, revision: str) -> str:
        """The full sha of a revision, or a clear error naming it."""
        if revision.startswith("-"):
            raise RevisionError(f"'{revision}' is not a valid branch or revision name")
        proc = run_git(self.root, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"],
                       check=False)
        if proc.returncode != 0:
            if revision == "HEAD" and not self.has_commits():
                raise RepositoryError(f"repository {self.root} has no commits yet: nothing to report")
            raise RevisionError(f"unknown branch or revision '{revision}' in {self.root}; "
                                "`git branch -a` lists the branches")
        return decode(proc.stdout).strip()

    def current_branch(self) -> str | None:
        proc = run_git(self.root, ["symbolic-ref", "--quiet", "--short", "HEAD"], check=False)
        return decode(proc.stdout).strip() or None if proc.returncode == 0 else None


def _mailmap_digest(root: str, bare: bool) -> str:
    data = b""
    if not bare:
        try:
            data = Path(root, ".mailmap").read_bytes()
        except OSError:
            data = b""
    else:
        proc = run_git(root, ["cat-file", "blob", "HEAD:.mailmap"], check=False)
        data = proc.stdout if proc.returncode == 0 else b""
    return hashlib.sha1(data).hexdigest()


@dataclass(frozen=True)
class WalkSpec:
    """What to walk: revisions and the commit-date window (timezone-aware; until is inclusive)."""

    revisions: tuple[str, ...] = ("HEAD",)
    all_branches: bool = False
    since: datetime | None = None
    until: datetime | None = None

    def rev_args(self) -> list[str]:
        if self.all_branches:
            return ["--branches", "--remotes"]
        return list(self.revisions)

    def window_args(self) -> list[str]:
        args = []
        # git compares whole seconds; the exact (inclusive) check is repeated in Python. Dates go to git as
        # explicit UTC times ("@<epoch>" is misread by git for small numbers); before 1970 git has no filter,
        # and git reads no year after 2099 (a later bound would match nothing): Python filters those alone.
        if self.since is not None and 86400 < self.since.timestamp() < _GIT_LAST_TIME:
            args.append(f"--since-as-filter={_git_time(self.since.timestamp() - 1)}")
        if self.until is not None and 86400 < self.until.timestamp() < _GIT_LAST_TIME:
            args.append(f"--until={_git_time(self.until.timestamp() + 1)}")
        return args

    def contains(self, committed_at: datetime) -> bool:
        if self.since is not None and committed_at < self.since:
            return False
        if self.until is not None and committed_at > self.until:
            return False
        return True


_GIT_LAST_TIME = 4102444800 - 86400  # 2099-12-31 UTC: git's date parser stops at 2099


def _git_time(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000")


def parse_offset(raw: str) -> int | None:
    """A git UTC offset ("-0800", the last field of ``%ci``) in minutes; None when it is not one."""
    if len(raw) == 5 and raw[0] in "+-" and raw[1:].isdigit():
        return (int(raw[1:3]) * 60 + int(raw[3:5])) * (-1 if raw[0] == "-" else 1)
    return None


HISTORY_VERSION = "1"  # of HistoryIndex.encode


@dataclass(frozen=True)
class HistoryIndex:
    """Every commit reachable from some revisions, in ``git log``'s order (newest first): its sha, commit time
    (epoch seconds) and committer UTC offset (minutes). One walk of the whole history answers every window
    exactly as ``git log --since-as-filter``/``--until`` would (git filters those without changing its order),
    so a report asks git for its window's list and its timezone once, and a warm run not at all (the session
    keeps the index in the cache, keyed by the tips it was read from).

    Kept compact (a history of 200,000 commits in about 6 MB, not 40 MB of tuples and strings): the shas as
    one ``bytes`` of fixed-width binary ids, the times and offsets as arrays."""

    packed: bytes  # the shas, ``width`` bytes each (20 for SHA-1, 32 for SHA-256)
    width: int
    times: array
    offsets: array

    @classmethod
    def of(cls, shas: Iterable[str], times: Iterable[int], offsets: Iterable[int]) -> "HistoryIndex":
        shas = list(shas)
        width = len(shas[0]) // 2 if shas else 20
        return cls(b"".join(bytes.fromhex(s) for s in shas), width, array("q", times), array("i", offsets))

    @property
    def shas(self) -> tuple[str, ...]:
        return tuple(self.sha(k) for k in range(len(self.times)))

    def sha(self, k: int) -> str:
        """The ``k``-th commit's sha (interned: the facts of the same commit share it)."""
        return sys.intern(self.packed[k * self.width:(k + 1) * self.width].hex())

    def between(self, since: datetime | None, until: datetime | None) -> list[tuple[str, datetime]]:
        """What ``list_commits`` returns for a window with these (inclusive) bounds."""
        low = since.timestamp() if since is not None else None
        high = until.timestamp() if until is not None else None
        out = []
        for k, ct in enumerate(self.times):
            if (low is not None and ct < low) or (high is not None and ct > high):
                continue
            out.append((self.sha(k), datetime.fromtimestamp(ct, tz=timezone.utc)))
        return out

    def offsets_between(self, since: datetime | None, until: datetime | None, limit: int) -> list[int]:
        """The committer offsets ``dominant_offset`` counts: the first ``limit`` commits with
        ``int(since) <= time <= int(until) + 1`` (git's whole-second bounds), in log order."""
        low = int(since.timestamp()) if since is not None and since.timestamp() > 86400 else None
        high = int(until.timestamp()) + 1 if until is not None and until.timestamp() > 86400 else None
        out: list[int] = []
        for ct, offset in zip(self.times, self.offsets):
            if (low is not None and ct < low) or (high is not None and ct > high):
                continue
            out.append(offset)
            if len(out) >= limit:
                break
        return out

    def encode(self) -> str:
        return "\n".join(f"{self.sha(k)} {ct} {off}" for k, (ct, off) in enumerate(zip(self.times, self.offsets)))

    @classmethod
    def decode(cls, text: str) -> "HistoryIndex":
        """The index from ``encode``'s text; ValueError when it is damaged (read line by line: no list of
        200,000 lines at once)."""
        packed, times, offsets = bytearray(), array("q"), array("i")
        width = 0
        position = 0
        for match in _INDEX_LINE.finditer(text):
            if match.start() != position:
                raise ValueError("a damaged line")
            sha = match.group(1)
            width = width or len(sha) // 2
            if len(sha) != 2 * width:
                raise ValueError("shas of two widths")
            packed += bytes.fromhex(sha)
            times.append(int(match.group(2)))
            offsets.append(int(match.group(3)))
            position = match.end()
        if position != len(text) or (text and text.endswith("\n")):
            raise ValueError("a damaged line")
        return cls(bytes(packed), width or 20, times, offsets)


_INDEX_LINE = re.compile(r"([0-9a-f]{40}(?:[0-9a-f]{24})?) ([+-]?\d+) ([+-]?\d+)(?:\n|\Z)")


def history_tips(repo: Repository, revisions: Sequence[str] = ("HEAD",), all_branches: bool = False) -> str:
    """What a ``HistoryIndex`` depends on, as one key: the tips' shas, replace refs and the shallow boundary."""
    if all_branches:
        tips = run_git(repo.root, ["for-each-ref", "--format=%(objectname) %(refname)", "refs/heads",
                                   "refs/remotes"]).stdout
    else:
        tips = "\n".join(repo.resolve(r) for r in revisions).encode()
    replaced = run_git(repo.root, ["for-each-ref", "--format=%(objectname) %(refname)", "refs/replace"],
                       check=False).stdout
    try:
        shallow = Path(repo.git_dir, "shallow").read_bytes()
    except OSError:
        shallow = b""
    digest = hashlib.sha1(b"\0".join([b"all" if all_branches else b"revs", tips, replaced, shallow]))
    return digest.hexdigest()


def read_history_index(repo: Repository, revisions: Sequence[str] = ("HEAD",),
                       all_branches: bool = False) -> HistoryIndex:
    """One walk of the whole history reachable from ``revisions`` (no diffs)."""
    rev_args = ["--branches", "--remotes"] if all_branches else list(revisions)
    packed, times, offsets = bytearray(), array("q"), array("i")
    width = 0
    for line in _git_lines(repo.root, [*_LOG_CONFIG, "log", "--format=%H %ct %ci", *rev_args, "--"]):
        parts = line.split(b" ")
        if len(parts) < 3:
            continue
        sha = bytes.fromhex(parts[0].decode("ascii"))
        width = width or len(sha)
        packed += sha
        times.append(int(parts[1]))
        offsets.append(parse_offset(parts[-1].decode("ascii", "replace")) or 0)
    return HistoryIndex(bytes(packed), width or 20, times, offsets)


def _git_lines(root: str | Path, args: Sequence[str]) -> Iterator[bytes]:
    """The lines of a read-only git command's output as git writes them (a whole history's is never held at
    once: 200,000 commits are 15 MB of text and a list of 200,000 lines)."""
    pending = b""
    for chunk in git_output(root, args):
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        yield from lines
    if pending:
        yield pending


def _verb(args: Sequence[str]) -> str:
    """The git command of ``args`` (``log`` of ``-c core.quotepath=off log ...``)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("-c", "-C"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return "command"


def git_output(root: str | Path, args: Sequence[str], stdin: bytes | None = None,
               drain: bool = False, background: bool = False) -> Iterator[bytes]:
    """The output of one read-only git command (``git -C root *args``) in chunks as git writes it, never held
    whole: ``stdin`` is fed on a thread and git's errors collected on another; git's pipe is widened. ``drain``:
    the output is read on a thread of its own as fast as git writes it (``_Drain``), for a caller that works
    between chunks. ``background``: git runs at a lower priority (work that may turn out unneeded gives way to
    the walk on a busy machine). Stopping early stops git. Fails with one line, ``git <verb> failed in <root>:
    <git's last line>`` (``_git_failed``), like ``run_git``."""
    env = {**os.environ, **_GIT_ENV}
    try:
        proc = subprocess.Popen(["git", "-C", str(root), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE, env=env)
    except FileNotFoundError:
        raise _git_missing() from None
    if background:
        _lower_priority(proc.pid)
    errors: list[bytes] = []
    helpers = [threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)]
    if stdin is not None:
        helpers.append(threading.Thread(target=_feed, args=(proc, stdin), daemon=True))
    for helper in helpers:
        helper.start()
    widen_pipe(proc.stdout)
    drained = _Drain(proc.stdout) if drain else None
    try:
        yield from drained if drained is not None else _read_chunks(proc.stdout)
    finally:
        if drained is not None:
            drained.close(proc)
        else:
            proc.stdout.close()  # stopped early: git ends on its next write
        code = proc.wait()
        for helper in helpers:
            helper.join()
    if code != 0:
        raise _git_failed(root, args, b"".join(errors))


def _lower_priority(pid: int) -> None:
    """Let the other processes of the machine go first (POSIX; elsewhere nothing changes)."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, min(os.getpriority(os.PRIO_PROCESS, pid) + 10, 19))
    except (AttributeError, OSError):
        pass


def _feed(proc: subprocess.Popen, data: bytes) -> None:
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except (BrokenPipeError, ValueError):  # git stopped reading (it failed, or the caller stopped early)
        pass


def list_commits(repo: Repository, spec: WalkSpec, index: HistoryIndex | None = None) -> list[tuple[str, datetime]]:
    """The shas in the window, newest first, with their commit dates (no diffs: cheap). With ``index`` (the
    history of ``spec``'s revisions), no git command runs."""
    if index is not None:
        return index.between(spec.since, spec.until)
    proc = run_git(repo.root, [*_LOG_CONFIG, "log", "--format=%H %ct", *spec.window_args(), *spec.rev_args(), "--"])
    out = []
    for line in proc.stdout.splitlines():
        sha, _, ts = line.partition(b" ")
        when = datetime.fromtimestamp(int(ts), tz=timezone.utc)
        if spec.contains(when):
            out.append((sha.decode("ascii"), when))
    return out


def _stream_tokens(stream: Iterable[bytes]) -> Iterator[bytes]:
    """NUL-separated tokens from a byte stream, without holding the whole output."""
    pending = b""
    for chunk in stream:
        pending += chunk
        parts = pending.split(b"\0")
        pending = parts.pop()
        yield from parts
    if pending:
        yield pending


PIPE_BYTES = 1 << 20


def widen_pipe(pipe) -> None:
    """Let git write up to ``PIPE_BYTES`` ahead of its reader (Linux; elsewhere the pipe stays as it is): a thread
    reading git's output waits for the GIL while the main thread works (up to 5 ms a turn), and a 64 KiB pipe
    leaves git waiting too."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError, ValueError):
        pass


def _read_chunks(pipe, size: int = PIPE_BYTES) -> Iterator[bytes]:
    """What git has written so far, up to ``size`` bytes at a time (one read each: never waits for more)."""
    read = getattr(pipe, "read1", pipe.read)
    while True:
        chunk = read(size)
        if not chunk:
            return
        yield chunk


class _Drain:
    """git's output read on a thread as fast as git writes it, handed over in order: a caller that does other
    work between commits (a report judging the commits already read) never leaves git blocked on a full pipe,
    so git's walk and Python's work run on two cores at once. At most ``_AHEAD`` chunks wait (8 MiB: when Python
    is the slower, git waits instead of its whole output piling up in memory). ``close`` stops early (git is
    then killed)."""

    _AHEAD = 8  # chunks of up to PIPE_BYTES

    def __init__(self, pipe) -> None:
        self._pipe = pipe
        self._chunks: queue.Queue = queue.Queue(self._AHEAD)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="narrator-git-output", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for chunk in _read_chunks(self._pipe):
                self._chunks.put(chunk)
        except BaseException as exc:  # e.g. the pipe closed by ``close``: handed to the reader
            self._error = exc
        finally:
            self._chunks.put(None)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self._chunks.get()
            if chunk is None:
                if self._error is not None:
                    raise self._error
                return
            yield chunk

    def close(self, proc: subprocess.Popen) -> None:
        if self._thread.is_alive():
            proc.kill()  # the reader stopped early: git would otherwise run on
            while self._thread.is_alive():  # the thread may wait on a full queue
                try:
                    self._chunks.get(timeout=0.05)
                except queue.Empty:
                    pass
        self._thread.join()
        self._pipe.close()


def _parse_person_list(values: Iterable[str]) -> tuple[Person, ...]:
    people = []
    for value in values:
        match = re.match(r"^\s*(.*?)\s*<([^>]*)>\s*$", value)
        if match:
            people.append(Person(clean_line(match.group(1)), clean_line(match.group(2)).lower()))
        elif value.strip():
            people.append(Person(clean_line(value), ""))
    return tuple(people)


def parse_log(tokens: Iterator[bytes]) -> Iterator[CommitFacts]:
    """Parse ``git log -z --raw --numstat --format=_FORMAT`` output into facts, one commit at a time."""
    token = next(tokens, None)
    while token is not None:
        token = token.lstrip(b"\n")
        if not token:
            token = next(tokens, None)
            continue
        header = [token]
        for _ in range(_HEADER_FIELDS):
            header.append(next(tokens, b""))
        if header[-1] != b"END":
            raise RepositoryError("could not read git's output (unexpected log format); please report this")
        sha = header[0].decode("ascii", "replace")
        parents = tuple(header[1].decode("ascii", "replace").split())
        raw_entries: list[tuple[str, str, str | None, bool]] = []  # status, path, old path, submodule
        stats: list[tuple[int, int, bool]] = []
        token = next(tokens, None)
        while token is not None:
            stripped = token.lstrip(b"\n")
            if stripped.startswith(b":"):
                meta = stripped[1:].split(b" ")
                status = meta[-1].decode("ascii", "replace")
                submodule = meta[0] == b"160000" or meta[1] == b"160000"
                first = decode(next(tokens, b""))
                if status[:1] in ("R", "C"):
                    second = decode(next(tokens, b""))
                    raw_entries.append((status, second, first, submodule))
                else:
                    raw_entries.append((status, first, None, submodule))
                token = next(tokens, None)
                continue
            match = _NUMSTAT.match(stripped) if raw_entries else None
            if match and len(stats) < len(raw_entries):
                added, deleted, rest = match.groups()
                if rest == b"":  # rename/copy: two more path tokens follow
                    next(tokens, None)
                    next(tokens, None)
                binary = added == b"-"
                stats.append((0 if binary else int(added), 0 if binary else int(deleted), binary))
                token = next(tokens, None)
                continue
            break  # the next commit's sha (or the end)
        yield _make_facts(sha, parents, header, raw_entries, stats)


@lru_cache(maxsize=PATH_MEMO)
def _clean_path(path: str) -> str:
    """``clean_line`` of a path, one string per distinct path (interned: the memo is bounded, the sharing is not)."""
    return sys.intern(clean_line(path))


def _make_facts(sha, parents, header, raw_entries, stats) -> CommitFacts:
    message = clean_text(decode(header[9]))
    subject, _, body = message.strip("\n").partition("\n")
    subject = clean_line(subject)
    body = body.strip("\n")
    trailers: list[tuple[str, str]] = []
    for item in decode(header[8]).split("\x1f"):
        key, sep, value = item.partition(":")
        if sep and key.strip():
            trailers.append((clean_line(key.strip()), clean_line(value.strip())))
    co_authors = _parse_person_list(v for k, v in trailers if k.lower() == "co-authored-by")
    files = []
    for index, (status, path, old_path, submodule) in enumerate(raw_entries):
        added, deleted, binary = stats[index] if index < len(stats) else (0, 0, False)
        change = ChangeType.from_status(status)
        files.append(FileChange(
            path=_clean_path(path), change_type=change,  # one string per distinct path (lru_cache)
            old_path=_clean_path(old_path) if old_path else None,
            language=None if submodule else language_of(path),
            added=added, deleted=deleted, binary=binary and not submodule, submodule=submodule,
        ))
    reverted = _REVERT_SHA.search(body)
    is_revert = bool(_REVERT_SUBJECT.match(subject)) or bool(reverted)
    return CommitFacts(
        sha=sys.intern(sha),
        parents=tuple(map(sys.intern, parents)),
        author=person(clean_line(decode(header[2])), clean_line(decode(header[3])).lower()),
        committer=person(clean_line(decode(header[4])), clean_line(decode(header[5])).lower()),
        authored_at=shared_zone(_parse_date(header[6])),
        committed_at=shared_zone(_parse_date(header[7])),
        subject=subject,
        body=body,
        trailers=tuple(trailers),
        co_authors=co_authors,
        files=tuple(files),
        is_merge=len(parents) > 1,
        is_revert=is_revert,
        reverted_sha=reverted.group(1) if reverted else None,
    )


def _parse_date(raw: bytes) -> datetime:
    text = raw.decode("ascii", "replace").strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, tz=timezone.utc)


_SHAS_PER_GIT = 50_000  # commits one git process is asked for: its memory grows with them (about 0.75 KB each)


def read_facts(repo: Repository, shas: Sequence[str], on_commit: Callable[[], None] | None = None,
               merge_files: bool = True) -> Iterator[CommitFacts]:
    """Facts for exactly these commits (any order), streamed from git, ``_SHAS_PER_GIT`` commits a process (one
    after the other): git keeps every commit it was asked for until it ends (200,000 generated commits asked at
    once: 256 MiB of its own and 2 GB of pack pages), so a very long window is read by a few processes in turn.
    Each new process starts only when the last one's output is read (a short stall), hence the large batches.

    ``merge_files=False``: merges are not diffed (``files_known`` False, no files): diffing a merge against its
    first parent is most of git's time on a history of pull requests (numpy: 17 s of 39 s)."""
    merges = "--diff-merges=first-parent" if merge_files else "--diff-merges=off"
    args = [*_LOG_CONFIG, "log", "--no-walk=unsorted", "--stdin", "-z", "--raw", "--numstat", "--no-abbrev", "-M",
            merges, "--no-color", "--no-ext-diff", "--no-textconv", f"--format={_FORMAT}"]
    for start in range(0, len(shas), _SHAS_PER_GIT):
        chunk = shas[start:start + _SHAS_PER_GIT]
        output = git_output(repo.root, args, stdin="\n".join(chunk).encode("ascii") + b"\n", drain=True)
        try:
            for facts in parse_log(_stream_tokens(output)):
                if not merge_files and facts.is_merge:
                    facts = replace(facts, files=(), files_known=False)
                if on_commit:
                    on_commit()
                yield facts
        finally:
            output.close()  # stopped early: git is stopped now, not when the generator is collected


class GitDiffs:
    """A ``DiffProvider`` for engines that read code: per-file diff text of a commit, read-only."""

    def __init__(self, repo: Repository, max_bytes: int = 2_000_000) -> None:
        self.repo = repo
        self.max_bytes = max_bytes

    def file_diffs(self, commit: CommitFacts) -> list[FileDiff]:
        base = commit.parents[0] if commit.parents else "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # empty tree
        by_path = {f.path: f for f in commit.files}
        proc = run_git(self.repo.root, [*_LOG_CONFIG, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M",
                                        "-U3", base, commit.sha, "--"], check=False)
        text = decode(proc.stdout[: self.max_bytes])
        diffs: list[FileDiff] = []
        seen: set[str] = set()
        for block in re.split(r"(?m)^(?=diff --git )", text):
            if not block.startswith("diff --git "):
                continue
            path = _diff_path(block)
            facts = by_path.get(path)
            if facts is None:
                continue
            seen.add(path)
            diffs.append(FileDiff.of(facts, clean_text(block), binary=facts.binary or "Binary files " in block[:400]))
        for f in commit.files:  # beyond max_bytes, or binary with no text: still named
            if f.path not in seen:
                diffs.append(FileDiff.of(f))
        return diffs

    def file_at(self, rev: str, path: str) -> str:
        if rev.startswith("-"):
            raise RevisionError(f"'{rev}' is not a valid revision")
        proc = run_git(self.repo.root, ["cat-file", "blob", f"{rev}:{path}"], check=False)
        if proc.returncode != 0:
            raise RevisionError(f"{path} does not exist at {rev}")
        return decode(proc.stdout)


def _diff_path(block: str) -> str:
    for line in block.splitlines()[:8]:
        if line.startswith("+++ b/"):
            return line[6:]
        if line.startswith("rename to "):
            return line[10:]
    for line in block.splitlines()[:8]:
        if line.startswith("--- a/"):
            return line[6:]
    first = block.splitlines()[0]
    match = re.match(r"diff --git a/(.*) b/(.*)$", first)
    return match.group(2) if match else first
