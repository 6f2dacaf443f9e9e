"""Small read-only questions about a history, answered by git plumbing: tags, first commit, recent shas, layout.

The walk itself (commit facts) is ``walker``; this module holds the other git queries the use cases need, so
no git command is run outside ``narrator.git``.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

from narrator.git.facts import CommitFacts
from narrator.git.patches import read_blobs
from narrator.git.text import clean_text, decode
from narrator.git.walker import HistoryIndex, Repository, parse_offset, run_git


@dataclass(frozen=True)
class Tag:
    name: str
    sha: str          # the commit the tag points at
    committed_at: datetime
    notes: str = ""   # an annotated tag's message (its release notes), signature left out


RELEASE_BRANCH_LIMIT = 10  # commits a release may sit off the branch (a "set 7.0.0 release #s" commit, a few fixes)
_OFF_BRANCH_CANDIDATES = 20  # tags dated in the window but not on it that are looked at (one merge-base each)


def tags_on(repo: Repository, commits: Mapping[str, CommitFacts] | Sequence[CommitFacts]) -> list[Tag]:
    """Tags pointing at these commits, oldest first; and tags cut from them: a tag dated within these commits'
    span whose commit is at most ``RELEASE_BRANCH_LIMIT`` commits off one of them (guice tags 7.0.0 on a
    "set 7.0.0 release #s" commit made beside master). A tag of a long-lived branch (echo's v4.15.x beside v5)
    or of an unrelated history (lodash's 4.18.1-npm build output) is not one of this branch's releases."""
    by_sha = commits if isinstance(commits, Mapping) else {c.sha: c for c in commits}
    if not by_sha:
        return []
    proc = run_git(repo.root, ["for-each-ref", "refs/tags", "--format=%(refname:short)%00%(objectname)%00"
                               "%(*objectname)%00%(contents:subject)%00%(contents:body)%00"
                               "%(*committerdate:unix)%00%(committerdate:unix)%00%01"], check=False)
    first = min(c.committed_at for c in by_sha.values())
    last = max(c.committed_at for c in by_sha.values())
    found = []
    off_branch: list[tuple[str, str, datetime, str]] = []
    for record in decode(proc.stdout).split("\0\x01"):
        parts = record.lstrip("\n").split("\0")
        if len(parts) < 7:
            continue
        name, obj, peeled, subject, body, peeled_date, own_date = parts[:7]
        sha = peeled or obj
        notes = clean_text("\n\n".join(p for p in (subject.strip(), body.strip()) if p) if peeled else "")
        commit = by_sha.get(sha)
        if commit is not None:
            found.append(Tag(name, sha, commit.committed_at, notes))
            continue
        stamp = (peeled_date if peeled else own_date).strip()
        if stamp.isdigit():
            when = datetime.fromtimestamp(int(stamp), tz=timezone.utc)
            if first <= when <= last:
                off_branch.append((name, sha, when, notes))
    if off_branch and len(off_branch) <= _OFF_BRANCH_CANDIDATES:
        tip = max(by_sha.values(), key=lambda c: c.committed_at).sha
        for name, sha, when, notes in off_branch:
            base = run_git(repo.root, ["merge-base", tip, sha], check=False)
            base_sha = decode(base.stdout).strip()
            if base.returncode != 0 or base_sha not in by_sha:
                continue
            count = run_git(repo.root, ["rev-list", "--count", f"{base_sha}..{sha}"], check=False)
            ahead = decode(count.stdout).strip()
            if count.returncode == 0 and ahead.isdigit() and int(ahead) <= RELEASE_BRANCH_LIMIT:
                found.append(Tag(name, sha, when, notes))
    return sorted(found, key=lambda t: t.committed_at)


def first_commit_time(repo: Repository, revision: str = "HEAD") -> datetime | None:
    """Commit date of the oldest root commit reachable from ``revision``."""
    proc = run_git(repo.root, ["log", "--max-parents=0", "--format=%ct", revision, "--"], check=False)
    stamps = [int(s) for s in proc.stdout.split() if s.strip().isdigit()]
    return datetime.fromtimestamp(min(stamps), tz=timezone.utc) if stamps else None


def commits_after(repo: Repository, moment: datetime, revision: str = "HEAD") -> tuple[int, datetime | None]:
    """How many commits reachable from ``revision`` are dated after ``moment`` (a wrong clock), and the latest."""
    proc = run_git(repo.root, ["log", f"--since=@{int(moment.timestamp())}", "--format=%ct", revision, "--"],
                   check=False)
    stamps = [int(s) for s in proc.stdout.split() if s.strip().isdigit() and int(s) > moment.timestamp()]
    if not stamps:
        return 0, None
    return len(stamps), datetime.fromtimestamp(max(stamps), tz=timezone.utc)


def recent_shas(repo: Repository, count: int, revision: str = "HEAD") -> list[str]:
    """The newest ``count`` commits reachable from ``revision``, newest first."""
    proc = run_git(repo.root, ["rev-list", f"--max-count={max(1, count)}", revision, "--"])
    return decode(proc.stdout).split()


def tracked_paths(repo: Repository, revision: str = "HEAD") -> list[str]:
    """Every file path in ``revision``'s tree (empty when the revision has no tree yet)."""
    proc = run_git(repo.root, ["-c", "core.quotepath=off", "ls-tree", "-r", "-z", "--name-only", revision, "--"],
                   check=False)
    if proc.returncode != 0:
        return []
    # interned: the facts' paths are, so the path caches these fill (root_package) hold no second copy
    return [sys.intern(p) for p in decode(proc.stdout).split("\0") if p]


# a package's __init__.py offers an API when it imports names for its users or lists __all__
_API_LINE = re.compile(r"^(?:from\s+(?!__future__\b)\S+\s+import\b|import\s+\w|__all__\s*[:+]?=)", re.M)
_PACKAGES_READ = 50  # top-level packages whose __init__.py is read, at most


def python_packages(repo: Repository, paths: Sequence[str], revision: str = "HEAD") -> dict[str, bool]:
    """The top-level Python packages among ``paths`` (``pkg/__init__.py`` or ``src/pkg/__init__.py``), each with
    whether its ``__init__.py`` at ``revision`` offers an API (imports names or lists ``__all__``): flask's and
    numpy's do, an application's (narrator's own: a docstring and ``__version__``) does not."""
    inits = [p for p in paths if p.endswith("/__init__.py")
             and (p.count("/") == 1 or (p.startswith("src/") and p.count("/") == 2))][:_PACKAGES_READ]
    texts = read_blobs(repo, ((revision, path) for path in inits)) if inits else {}
    return {path[: -len("__init__.py")]: bool(_API_LINE.search(texts.get((revision, path), ""))) for path in inits}


@dataclass(frozen=True)
class HooksPaths:
    """Where git looks for hooks, as git itself answers (relative paths are relative to the asked path)."""

    common_dir: str
    hooks_dir: str
    hooks_path_config: str  # core.hooksPath as configured ("" when unset)
    hooks_path_origin: str  # where core.hooksPath is set (e.g. "file:/home/me/.gitconfig")


def hooks_paths(path: str | Path) -> HooksPaths:
    proc = run_git(path, ["rev-parse", "--git-common-dir", "--git-path", "hooks"])
    common_dir, hooks = decode(proc.stdout).splitlines()[:2]
    origin = run_git(path, ["config", "--show-origin", "--get", "core.hooksPath"], check=False)
    configured, where = "", ""
    if origin.returncode == 0:
        where, _, configured = decode(origin.stdout).rstrip("\n").partition("\t")
    return HooksPaths(common_dir, hooks, configured, where)


def last_commit_before(repo: Repository, moment: datetime, revisions: Sequence[str] = ("HEAD",),
                       all_branches: bool = False) -> datetime | None:
    """Commit date of the newest commit (reachable from ``revisions``) dated before ``moment``."""
    revs = ["--branches", "--remotes"] if all_branches else list(revisions)
    proc = run_git(repo.root, ["log", "-1", "--format=%ct", f"--until=@{max(0, int(moment.timestamp()) - 1)}",
                               *revs, "--"], check=False)
    stamp = proc.stdout.strip()
    return datetime.fromtimestamp(int(stamp), tz=timezone.utc) if stamp.isdigit() else None


def dominant_offset(repo: Repository, since: datetime | None, until: datetime | None,
                    revisions: Sequence[str] = ("HEAD",), all_branches: bool = False,
                    limit: int = 5000, index: HistoryIndex | None = None) -> int | None:
    """The committer UTC offset (in minutes) most commits in [since, until] were made with, or None.

    This is the repository's own time: reports date a release the way ``git log`` shows it. ``index``: the
    ``HistoryIndex`` of these revisions, when the caller has it (then no git command runs).
    """
    if index is not None:
        offsets: list[int | None] = list(index.offsets_between(since, until, limit))
    else:
        args = ["log", f"--max-count={limit}", "--format=%ci"]  # "2026-02-18 19:41:55 -0800": the offset is last
        if since is not None and since.timestamp() > 86400:
            args.append(f"--since-as-filter=@{int(since.timestamp())}")
        if until is not None and until.timestamp() > 86400:
            args.append(f"--until=@{int(until.timestamp()) + 1}")
        args += ["--branches", "--remotes"] if all_branches else list(revisions)
        proc = run_git(repo.root, [*args, "--"], check=False)
        offsets = [parse_offset(line.rsplit(" ", 1)[-1]) for line in decode(proc.stdout).splitlines()]
    counts = Counter(o for o in offsets if o is not None)
    if not counts:
        return None
    return max(counts.items(), key=lambda kv: (kv[1], -abs(kv[0])))[0]


def remote_url(repo: Repository, name: str = "origin") -> str:
    """The URL of a remote ("" when there is none): where links to commits and pull requests point."""
    proc = run_git(repo.root, ["config", "--get", f"remote.{name}.url"], check=False)
    return decode(proc.stdout).strip() if proc.returncode == 0 else ""
