"""The hook's background job (``narrate hook run``): narrate HEAD and a few recent commits into the cache.

It runs detached from the commit (started by the post-commit script of ``narrator.hooks``), at low priority and
under ``hook.timeout_s``, through one session like every other use case, so what it caches is exactly what the
next report reads. Bursts of commits coalesce on a per-worktree lock and a "pending" flag.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from narrator.app.session import Session
from narrator.errors import NarratorError
from narrator.git.history import recent_shas
from narrator.hooks import LOG_MAX_BYTES, LOG_NAME, SKIP_STATES, log_dir
from narrator.prompts import PROMPT_VERSION

log = logging.getLogger(__name__)


def in_progress_state(git_dir: Path) -> str:
    """The rebase/am/cherry-pick/revert state that makes the hook skip, or ""."""
    for name in SKIP_STATES:
        if (git_dir / name).exists():
            return name
    return ""


def narrate_recent(session: Session, recent: int = 10) -> int:
    """Narrate ``HEAD`` and up to ``recent - 1`` ancestors missing from the cache; returns how many were new."""
    repo, cache = session.repo, session.cache
    if not repo.has_commits():
        return 0
    shas = recent_shas(repo, recent)
    engine = session.engine()
    done = cache.get_narrations(repo.key, shas, engine.fingerprint(), PROMPT_VERSION) if cache is not None else {}
    missing = [s for s in shas if s not in done]
    if not missing:
        return 0
    facts = session.facts(missing)
    commits = session.mark_bots(facts[s] for s in missing if s in facts)
    session.narrate(commits, session.classify(commits), engine)
    return len(commits)


def run_job(repo_path: str | Path = ".", *, now: Callable[[], float] = time.monotonic) -> int:
    """The detached job the hook starts. Never raises; returns an exit status for the log's sake.

    Bursts of commits coalesce: each job raises a "pending" flag, and only the job holding the per-worktree
    lock narrates, looping while the flag is raised, so a rebase finishing or a scripted series of commits
    costs one or two runs instead of one process per commit fighting over the cache.
    """
    started = now()
    os.environ.pop("GIT_INDEX_FILE", None)  # git's temporary index may vanish while we run
    _rotate_log()
    try:
        session = Session.open(str(repo_path))
    except NarratorError as exc:
        log.warning("hook job: %s", exc)
        return 1
    with session:
        repo, settings = session.repo, session.settings
        if not settings.hook.enabled:
            log.debug("hook disabled for %s", repo.root)
            return 0
        state = in_progress_state(Path(repo.git_dir))
        if state:
            log.info("skipped %s: %s in progress (the next report narrates the result)", repo.name, state)
            return 0
        _renice(settings.hook.nice)
        _arm_timeout(float(settings.hook.timeout_s))
        tag = hashlib.sha1(os.path.realpath(repo.git_dir).encode("utf-8", "surrogateescape")).hexdigest()[:16]
        locks = log_dir().parent / "locks"
        try:
            locks.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("hook job: cannot create %s: %s", locks, exc.strerror)
            return 1
        pending = locks / f"hook-{tag}.pending"
        lock_path = locks / f"hook-{tag}.lock"
        pending.touch()
        total = 0
        try:
            while True:
                handle = _lock(lock_path)
                if handle is None:
                    log.debug("another hook job is running for %s; it will narrate this commit", repo.name)
                    return 0
                try:
                    while pending.exists():
                        pending.unlink(missing_ok=True)
                        total += narrate_recent(session, settings.hook.recent_commits)
                finally:
                    handle.close()
                if not pending.exists():
                    break
        except NarratorError as exc:
            log.warning("hook job for %s failed: %s", repo.name, exc)
            return 1
        except Exception:  # the log is the only place anyone will see this
            log.exception("hook job for %s failed unexpectedly", repo.name)
            return 1
        log.info("narrated %d new commit(s) of %s in %.2f s", total, repo.name, now() - started)
        return 0


def _rotate_log() -> None:
    path = log_dir() / LOG_NAME
    try:
        if path.stat().st_size > LOG_MAX_BYTES:
            os.replace(path, path.with_name(LOG_NAME + ".1"))
    except OSError:
        pass


def _lock(path: Path) -> Any:
    """A non-blocking exclusive lock (fcntl), or None when another job holds it."""
    import fcntl

    handle = path.open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _renice(target: int) -> None:
    try:
        current = os.nice(0)
        if target > current:
            os.nice(target - current)
    except (OSError, AttributeError):
        pass


def _arm_timeout(seconds: float) -> None:
    """Stop the job after ``seconds`` even inside native code (a model): a timer thread, and SIGALRM later."""
    if seconds <= 0:
        return

    def expire() -> None:
        log.warning("hook job stopped after hook.timeout_s = %g s", seconds)
        logging.shutdown()
        os._exit(124)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        import signal

        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(int(seconds) + 30)
    except (AttributeError, ValueError):
        pass


def spawn_detached(repo_path: str | Path = ".") -> None:
    """Start ``hook run`` as a detached, low-priority process (used by the pre-commit framework entry)."""
    directory = log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / LOG_NAME).open("ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", "narrator", "hook", "run", "--repo", str(repo_path)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True,
            env={**os.environ, "NARRATOR_HOOK_CHILD": "1"},
        )
