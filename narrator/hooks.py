"""Install, remove and inspect narrator's git ``post-commit`` hook (its background job is ``app.hook_job``).

The hook is a tiny POSIX ``sh`` script that returns at once: it runs any hook it replaced (moved aside to
``post-commit.narrator-chained``, exit status preserved), skips rebases, ``git am`` and cherry-pick/revert
sequences, and starts ``narrate hook run`` detached (``setsid``/``nohup``, ``nice``, every stream sent to
``<cache dir>/logs/hook.log``). Only that background process starts Python; it narrates ``HEAD`` (and a few
recent commits still missing) into the cache with the configured engine, under ``hook.timeout_s``.

Where the hook goes is asked of git (``git rev-parse --git-path hooks``), so ``core.hooksPath``, worktrees
and Husky-style directories work. A hooks directory outside the repository (a ``core.hooksPath`` shared by
every repository of the user) is refused unless ``force=True``: a hook there runs for every repository.
Installing never overwrites a hook narrator did not write, and uninstalling restores exactly what was
there (the original file is renamed aside and back, so bytes, mode and symlinks are untouched).
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from narrator.errors import NarratorError, RepositoryError
from narrator.git.history import hooks_paths
from narrator.git.walker import Repository

log = logging.getLogger(__name__)

HOOK_NAME = "post-commit"
CHAINED_SUFFIX = ".narrator-chained"
MARKER = "# narrator-hook: post-commit v1"
LOG_NAME = "hook.log"
LOG_MAX_BYTES = 1_000_000
# Sequences whose intermediate commits are rewritten or replayed: the next report narrates the result.
SKIP_STATES = ("rebase-merge", "rebase-apply", "sequencer", "CHERRY_PICK_HEAD", "REVERT_HEAD")


class HookError(NarratorError):
    """The hook cannot be installed, removed or inspected as asked."""


@dataclass(frozen=True)
class HookLocation:
    """Where a repository's ``post-commit`` hook lives, as git sees it."""

    work_tree: Path
    git_dir: Path
    common_dir: Path
    hooks_dir: Path
    hooks_path_config: str  # core.hooksPath as configured ("" when unset)
    hooks_path_origin: str  # where core.hooksPath is set (e.g. "file:/home/me/.gitconfig")
    inside_repository: bool

    @property
    def hook(self) -> Path:
        return self.hooks_dir / HOOK_NAME

    @property
    def chained(self) -> Path:
        return self.hooks_dir / (HOOK_NAME + CHAINED_SUFFIX)


@dataclass(frozen=True)
class HookStatus:
    location: HookLocation
    installed: bool
    current: bool  # installed and identical to what `install` would write now
    chained: str  # description of the hook narrator chains to ("" when none)
    foreign: str  # description of a post-commit hook that is not narrator's ("" when none)
    command: str  # how the hook starts narrator
    log_file: Path


@dataclass(frozen=True)
class InstallResult:
    location: HookLocation
    action: str  # "installed", "updated", "unchanged"
    chained: str


@dataclass(frozen=True)
class UninstallResult:
    location: HookLocation
    action: str  # "removed", "not-installed"
    restored: str


# -- locating -------------------------------------------------------------------------------------------

def _is_within(path: Path, parent: Path) -> bool:
    try:
        path.relative_to(parent)
        return True
    except ValueError:
        return False


def locate(repo_path: str | Path = ".") -> HookLocation:
    """Ask git where the hooks of the repository containing ``repo_path`` live."""
    path = Path(repo_path)
    repo = Repository.open(path)  # exists, is a directory, is a repository: one clear error otherwise
    if repo.bare:
        raise RepositoryError(f"{path.resolve()} is a bare repository: nobody commits there, so a post-commit "
                              "hook would never run; install it in a clone")
    where_git = hooks_paths(path)
    common_dir, hooks = where_git.common_dir, where_git.hooks_dir
    configured, where = where_git.hooks_path_config, where_git.hooks_path_origin
    git_dir = repo.git_dir
    work_tree = Path(repo.root)
    hooks_dir = Path(os.path.abspath(path / hooks)) if not os.path.isabs(hooks) else Path(hooks)
    common = Path(os.path.abspath(path / common_dir)) if not os.path.isabs(common_dir) else Path(common_dir)
    real = Path(os.path.realpath(hooks_dir))
    inside = any(_is_within(real, Path(os.path.realpath(p))) for p in (work_tree, common, git_dir))
    return HookLocation(work_tree=work_tree, git_dir=Path(git_dir), common_dir=common, hooks_dir=hooks_dir,
                        hooks_path_config=configured, hooks_path_origin=where, inside_repository=inside)


# -- the script -----------------------------------------------------------------------------------------

def log_dir() -> Path:
    from narrator.cache import cache_dir

    return cache_dir() / "logs"


def interpreter() -> str:
    """The Python that runs narrator now; the hook uses it, falling back to `narrate` on PATH."""
    return os.path.abspath(sys.executable) if sys.executable else ""


def hook_script(python: str | None = None, default_cache_dir: Path | None = None, nice: int = 10) -> str:
    """The ``post-commit`` script: POSIX sh, no Python in the foreground, always exits with the chained status."""
    from narrator.cache import cache_dir

    python = interpreter() if python is None else python
    if default_cache_dir is None:
        saved = os.environ.pop("NARRATOR_CACHE_DIR", None)  # bake the user's default, not a test override
        try:
            default_cache_dir = cache_dir()
        finally:
            if saved is not None:
                os.environ["NARRATOR_CACHE_DIR"] = saved
    q = shlex.quote
    skip = " ".join(SKIP_STATES)
    return f"""#!/bin/sh
{MARKER}
# Written by `narrate hook install`; `narrate hook uninstall` removes it and puts back any hook it replaced.
# It runs the replaced hook (post-commit{CHAINED_SUFFIX}) first and exits with its status, then starts
# `narrate hook run` in the background to narrate the new commit into narrator's cache. It never prints
# and never fails the commit. Opt out per repository with `[hook] enabled = false` in .narrator.toml.
narrator_status=0
case $0 in */*) narrator_dir=${{0%/*}} ;; *) narrator_dir=. ;; esac
if [ "${{0##*/}}" = {HOOK_NAME} ] && [ -x "$narrator_dir/{HOOK_NAME}{CHAINED_SUFFIX}" ]; then
    "$narrator_dir/{HOOK_NAME}{CHAINED_SUFFIX}" "$@"
    narrator_status=$?
fi
narrator_start() {{
    case ${{NARRATOR_HOOK__ENABLED:-}} in [Ff][Aa][Ll][Ss][Ee]|0|[Nn][Oo]|[Oo][Ff][Ff]) return 0 ;; esac
    narrator_git_dir=$(git rev-parse --git-dir 2>/dev/null) || return 0
    for narrator_state in {skip}; do
        [ -e "$narrator_git_dir/$narrator_state" ] && return 0
    done
    narrator_py={q(python)}
    if [ -n "$narrator_py" ] && [ -x "$narrator_py" ]; then
        set -- "$narrator_py" -m narrator
    elif command -v narrate >/dev/null 2>&1; then
        set -- narrate
    else
        return 0
    fi
    narrator_log=${{NARRATOR_CACHE_DIR:-{q(str(default_cache_dir))}}}/logs
    [ -d "$narrator_log" ] || mkdir -p "$narrator_log" 2>/dev/null || return 0
    narrator_log=$narrator_log/{LOG_NAME}
    if command -v setsid >/dev/null 2>&1; then
        NARRATOR_HOOK_CHILD=1 nice -n {int(nice)} setsid "$@" hook run </dev/null >>"$narrator_log" 2>&1 &
    else
        NARRATOR_HOOK_CHILD=1 nohup nice -n {int(nice)} "$@" hook run </dev/null >>"$narrator_log" 2>&1 &
    fi
}}
narrator_start >/dev/null 2>&1
exit $narrator_status
"""


def _is_ours(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return MARKER.encode() in head


def describe(path: Path) -> str:
    """A short, safe description of an existing hook file (never follows a symlink to write)."""
    if path.is_symlink():
        target = os.readlink(path)
        state = "missing target" if not path.exists() else (
            "executable" if os.access(path, os.X_OK) else "not executable: git ignores it")
        return f"symlink -> {target} ({state})"
    if not path.exists():
        return ""
    if not path.is_file():
        return "not a regular file"
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    kind = "script" if head.startswith(b"#!") else ("binary" if b"\0" in head or head[:4] == b"\x7fELF" else "file")
    if b"pre-commit" in head and b"generated" in head.lower():
        kind = "pre-commit framework script"
    mode = "executable" if os.access(path, os.X_OK) else "not executable: git ignores it"
    return f"{kind} ({mode})"


# -- install / uninstall / status ---------------------------------------------------------------------

def _check_location(location: HookLocation, force: bool) -> None:
    if not location.inside_repository and not force:
        origin = f" (set in {location.hooks_path_origin})" if location.hooks_path_origin else ""
        raise HookError(
            f"core.hooksPath{origin} points to {location.hooks_dir}, outside this repository: a hook there runs "
            "for every repository that uses that directory; pass --force to install it there anyway, or set a "
            "repository-local core.hooksPath"
        )


def _ensure_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HookError(f"cannot create the hooks directory {directory}: {exc.strerror}; "
                        "check its permissions") from None
    if not directory.is_dir():
        raise HookError(f"the hooks path {directory} is not a directory; fix core.hooksPath or remove that file")
    probe = directory / f".narrator-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise HookError(f"the hooks directory {directory} is not writable ({exc.strerror}); "
                        "fix its permissions or run as its owner") from None


def _write_script(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.narrator-tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise HookError(f"cannot write {path}: {exc.strerror}") from None


def install(repo_path: str | Path = ".", *, force: bool = False, nice: int = 10,
            python: str | None = None) -> InstallResult:
    """Install (or refresh) narrator's hook, chaining to any existing ``post-commit``."""
    location = locate(repo_path)
    _check_location(location, force)
    _ensure_writable(location.hooks_dir)
    script = hook_script(python=python, nice=nice)
    hook, chained = location.hook, location.chained
    if _is_ours(hook):
        if hook.read_text(encoding="utf-8", errors="replace") == script and os.access(hook, os.X_OK):
            return InstallResult(location, "unchanged", describe(chained))
        _write_script(hook, script)
        return InstallResult(location, "updated", describe(chained))
    chained_now = ""
    if os.path.lexists(hook):
        if os.path.lexists(chained):
            raise HookError(f"both {hook} and {chained} exist and neither is narrator's current hook; "
                            f"merge or remove one of them, then run `narrate hook install` again")
        if hook.is_dir():
            raise HookError(f"{hook} is a directory; git cannot run it as a hook. Remove it first")
        chained_now = describe(hook)
        tmp = hook.with_name(f".{hook.name}.narrator-tmp-{os.getpid()}")
        try:
            with tmp.open("w", encoding="utf-8", newline="\n") as handle:
                handle.write(script)
            os.chmod(tmp, 0o755)
            os.rename(hook, chained)  # renames a symlink itself, never its target; bytes and mode untouched
            os.replace(tmp, hook)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if not os.path.lexists(hook) and os.path.lexists(chained):
                os.rename(chained, hook)
            raise HookError(f"cannot install the hook in {location.hooks_dir}: {exc.strerror}") from None
    else:
        if os.path.lexists(chained):
            chained_now = describe(chained)  # left from an interrupted install: keep chaining to it
        _write_script(hook, script)
    log.info("installed %s", hook)
    return InstallResult(location, "installed", chained_now)


def uninstall(repo_path: str | Path = ".", *, force: bool = False) -> UninstallResult:
    """Remove narrator's hook and put back the hook it replaced, exactly as it was."""
    location = locate(repo_path)
    hook, chained = location.hook, location.chained
    if not _is_ours(hook):
        if not os.path.lexists(hook) and os.path.lexists(chained):
            os.rename(chained, hook)  # an interrupted install: give the user's hook back
            return UninstallResult(location, "removed", describe(hook))
        return UninstallResult(location, "not-installed", "")
    try:
        if os.path.lexists(chained):
            os.replace(chained, hook)  # atomic: there is never a moment without the user's hook
            return UninstallResult(location, "removed", describe(hook))
        hook.unlink()
    except OSError as exc:
        raise HookError(f"cannot remove {hook}: {exc.strerror}; check the permissions of "
                        f"{location.hooks_dir}") from None
    return UninstallResult(location, "removed", "")


def status(repo_path: str | Path = ".") -> HookStatus:
    location = locate(repo_path)
    hook = location.hook
    ours = _is_ours(hook)
    current = ours and hook.read_text(encoding="utf-8", errors="replace") == hook_script() \
        and os.access(hook, os.X_OK)
    py = interpreter()
    command = f"{py} -m narrator" if py and os.access(py, os.X_OK) else "narrate (from PATH)"
    return HookStatus(location=location, installed=ours, current=current,
                      chained=describe(location.chained) if ours else "",
                      foreign="" if ours else describe(hook), command=command, log_file=log_dir() / LOG_NAME)
