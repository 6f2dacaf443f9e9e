"""Shared test fixtures: real throw-away git repositories with pinned dates, and an isolated environment.

Every test gets its own cache directory, data directory (delivery outbox and ledger) and a non-existent user
config file, so no test reads or writes the real user's cache, deliveries or configuration.
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

BASE_DATE = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)  # a Monday


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("narrator-env")
    monkeypatch.setenv("NARRATOR_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("NARRATOR_CONFIG_FILE", str(home / "no-config.toml"))
    monkeypatch.setenv("NARRATOR_DATA_DIR", str(home / "data"))  # delivery outbox and ledger
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in list(os.environ):
        if name.startswith("NARRATOR_") and name not in ("NARRATOR_CACHE_DIR", "NARRATOR_CONFIG_FILE",
                                                         "NARRATOR_DATA_DIR", "NARRATOR_TEST_GGUF"):
            monkeypatch.delenv(name, raising=False)
    yield home


class GitRepo:
    """A throw-away repository; ``commit`` writes files and commits with a pinned date."""

    def __init__(self, path: Path, bare: bool = False) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))
        if not bare:
            self.git("config", "user.name", "Ada Lovelace")
            self.git("config", "user.email", "ada@example.com")
            self.git("config", "commit.gpgsign", "false")
        self.clock = BASE_DATE

    def git(self, *args: str, env: dict[str, str] | None = None, check: bool = True, input: bytes | None = None):
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, env=full_env, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode("utf-8", "replace").strip()

    def write(self, rel: str, content: str | bytes) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")

    def commit(self, message: str | bytes, files: dict[str, str | bytes | None] | None = None, *,
               author: tuple[str, str] = ("Ada Lovelace", "ada@example.com"), when: datetime | None = None,
               step: timedelta = timedelta(hours=1), allow_empty: bool = False) -> str:
        for rel, content in (files or {}).items():
            if content is None:
                self.git("rm", "-q", "--", rel)
            else:
                self.write(rel, content)
                self.git("add", "--", rel)
        if when is None:
            self.clock += step
            when = self.clock
        stamp = when.isoformat()
        env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1], "GIT_AUTHOR_DATE": stamp,
               "GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1], "GIT_COMMITTER_DATE": stamp}
        args = ["commit", "-q", "--no-verify"] + (["--allow-empty"] if allow_empty or not files else [])
        if isinstance(message, bytes):
            msg_file = self.path.parent / f".msg-{self.path.name}"
            msg_file.write_bytes(message)
            self.git(*args, "-F", str(msg_file), env=env)
            msg_file.unlink()
        else:
            self.git(*args, "-m", message, env=env)
        return self.git("rev-parse", "HEAD")

    def merge(self, branch: str, message: str, when: datetime | None = None) -> str:
        if when is None:
            self.clock += timedelta(hours=1)
            when = self.clock
        env = {"GIT_AUTHOR_DATE": when.isoformat(), "GIT_COMMITTER_DATE": when.isoformat()}
        self.git("merge", "--no-ff", "-q", "-m", message, branch, env=env)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


@pytest.fixture
def make_repo(tmp_path):
    def factory(name: str = "repo", bare: bool = False) -> GitRepo:
        return GitRepo(tmp_path / name, bare=bare)

    return factory


def run_narrate(*args: str, cwd: str | Path | None = None, env: dict[str, str] | None = None,
                input: str | None = None, real: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``narrate`` with these arguments and return its exit code, stdout and stderr.

    In-process by default (click's isolation around ``narrator.cli.main``: the same entry point, error
    boundary and exit codes, without starting Python again); ``real=True`` (or NARRATOR_TEST_SUBPROCESS=1) runs
    the real command in a subprocess, as a user types it.
    """
    if real or os.environ.get("NARRATOR_TEST_SUBPROCESS"):
        return run_narrate_subprocess(*args, cwd=cwd, env=env, input=input)
    import logging

    from click.testing import CliRunner

    from narrator.cli import main

    runner = CliRunner()
    previous = os.getcwd()
    root_logger = logging.getLogger()
    handlers, level = list(root_logger.handlers), root_logger.level
    with runner.isolation(input=input, env=env) as (out, err, _both):
        try:
            if cwd is not None:
                os.chdir(cwd)
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os.chdir(previous)
            for handler in root_logger.handlers[:]:  # -v installs a handler on the captured stderr
                if handler not in handlers:
                    root_logger.removeHandler(handler)
            root_logger.setLevel(level)
        stdout = out.getvalue().decode("utf-8", "replace")
        stderr = err.getvalue().decode("utf-8", "replace")
    return subprocess.CompletedProcess(["narrate", *args], code, stdout, stderr)


def run_narrate_subprocess(*args: str, cwd: str | Path | None = None, env: dict[str, str] | None = None,
                           input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``narrate`` command in a subprocess (what a user types)."""
    import sys

    cmd = [sys.executable, "-m", "narrator", *args]
    full_env = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, env=full_env, input=input, timeout=300,
                          encoding="utf-8", errors="replace")
