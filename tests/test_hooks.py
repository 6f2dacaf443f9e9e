"""The post-commit hook on real repositories: install/uninstall/status, chaining, skips, the background job."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import GitRepo, run_narrate
from narrator.cache import Cache
from narrator.engines.heuristic import HeuristicEngine
from narrator.errors import RepositoryError
from narrator.git.facts import Narration
from narrator.git.walker import Repository
from narrator.app.hook_job import run_job
from narrator.hooks import CHAINED_SUFFIX, MARKER, HookError, hook_script, install, locate, status, uninstall
from narrator.prompts import PROMPT_VERSION

ROOT = Path(__file__).resolve().parents[1]


def narrated(repo_path: Path, sha: str) -> bool:
    repo = Repository.open(repo_path)
    with Cache() as cache:
        found = cache.get_narrations(repo.key, [sha], HeuristicEngine({}).fingerprint(), PROMPT_VERSION)
    return sha in found


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def hook_log(env_home: Path) -> str:
    path = env_home / "cache" / "logs" / "hook.log"
    return path.read_text() if path.exists() else ""


def fake_python(tmp_path: Path) -> tuple[Path, Path]:
    """An executable standing in for Python: records each time the hook starts narrator (no Python cost)."""
    record = tmp_path / "starts.txt"
    fake = tmp_path / "fakepy"
    fake.write_text(f"#!/bin/sh\necho \"$*\" >> '{record}'\n")
    fake.chmod(0o755)
    return fake, record


def test_install_commit_narrates_in_background_and_uninstall_removes(git_repo, isolated_env):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    result = run_narrate("hook", "install", "--repo", str(git_repo.path))
    assert result.returncode == 0, result.stderr
    hook = git_repo.path / ".git" / "hooks" / "post-commit"
    assert MARKER in hook.read_text() and os.access(hook, os.X_OK)
    started = time.monotonic()
    proc = subprocess.run(["git", "-C", str(git_repo.path), "commit", "-q", "--allow-empty", "-m", "feat: add login"],
                          capture_output=True, text=True)
    took = time.monotonic() - started
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""  # never prints to the committer
    assert took < 2.0
    head = git_repo.git("rev-parse", "HEAD")
    assert wait_for(lambda: narrated(git_repo.path, head)), hook_log(isolated_env)
    assert "narrated" in hook_log(isolated_env)

    st = run_narrate("hook", "status", "--repo", str(git_repo.path))
    assert "hook:        installed" in st.stdout
    assert run_narrate("hook", "uninstall", "--repo", str(git_repo.path)).returncode == 0
    assert not hook.exists()
    again = run_narrate("hook", "uninstall", "--repo", str(git_repo.path))
    assert again.returncode == 0 and "nothing to remove" in again.stdout


def test_existing_hook_is_chained_keeps_status_and_is_restored_exactly(git_repo, tmp_path):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    hooks = git_repo.path / ".git" / "hooks"
    original = hooks / "post-commit"
    marker = tmp_path / "old-hook-ran.txt"
    body = f"#!/bin/sh\necho \"ran $# $1\" >> '{marker}'\nexit 3\n".encode()
    original.write_bytes(body)
    original.chmod(0o750)
    fake, record = fake_python(tmp_path)

    first = install(git_repo.path, python=str(fake))
    assert first.action == "installed" and "script" in first.chained
    second = install(git_repo.path, python=str(fake))  # install twice = install once
    assert second.action == "unchanged"
    chained = hooks / ("post-commit" + CHAINED_SUFFIX)
    assert chained.read_bytes() == body and (chained.stat().st_mode & 0o777) == 0o750
    assert not list(hooks.glob("*" + CHAINED_SUFFIX + CHAINED_SUFFIX))

    git_repo.commit("Second commit", {"a.txt": "a\n"})
    assert marker.read_text() == "ran 0 \n"  # the old hook still runs on a real commit
    assert wait_for(lambda: record.exists())
    # The hook exits with the chained hook's status and passes its arguments on.
    proc = subprocess.run([str(original), "x"], cwd=git_repo.path, capture_output=True)
    assert proc.returncode == 3 and proc.stdout == b"" and proc.stderr == b""
    assert marker.read_text().splitlines()[-1] == "ran 1 x"

    assert uninstall(git_repo.path).action == "removed"
    assert original.read_bytes() == body and (original.stat().st_mode & 0o777) == 0o750
    assert not chained.exists()


def test_existing_symlink_hook_is_moved_not_followed(git_repo, tmp_path):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    target = git_repo.path / "tools" / "post-commit.sh"
    marker = tmp_path / "link-ran.txt"
    target.parent.mkdir()
    target_body = f"#!/bin/sh\necho link >> '{marker}'\n"
    target.write_text(target_body)
    target.chmod(0o755)
    hook = git_repo.path / ".git" / "hooks" / "post-commit"
    os.symlink("../../tools/post-commit.sh", hook)
    fake, _ = fake_python(tmp_path)

    result = install(git_repo.path, python=str(fake))
    assert result.chained.startswith("symlink -> ../../tools/post-commit.sh")
    assert target.read_text() == target_body  # the symlink's target was never written
    assert not hook.is_symlink() and MARKER in hook.read_text()
    chained = hook.with_name("post-commit" + CHAINED_SUFFIX)
    assert chained.is_symlink() and os.readlink(chained) == "../../tools/post-commit.sh"
    git_repo.commit("Second commit", {"a.txt": "a\n"})
    assert marker.read_text() == "link\n"
    uninstall(git_repo.path)
    assert hook.is_symlink() and os.readlink(hook) == "../../tools/post-commit.sh"
    assert target.read_text() == target_body


@pytest.mark.parametrize("binary, status_code", [("true", 0), ("false", 1)])
def test_existing_binary_hook_is_chained_by_executing_it(git_repo, tmp_path, binary, status_code):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    source = Path(shutil.which(binary) or f"/bin/{binary}").resolve()
    hook = git_repo.path / ".git" / "hooks" / "post-commit"
    shutil.copy2(source, hook)
    data = hook.read_bytes()
    assert b"\0" in data[:512]
    fake, _ = fake_python(tmp_path)
    result = install(git_repo.path, python=str(fake))
    assert result.chained.startswith("binary")
    proc = subprocess.run([str(hook)], cwd=git_repo.path)
    assert proc.returncode == status_code
    uninstall(git_repo.path)
    assert hook.read_bytes() == data and os.access(hook, os.X_OK)


def test_hooks_path_inside_repository_husky_style(git_repo, isolated_env):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    git_repo.git("config", "core.hooksPath", ".husky/_")
    location = locate(git_repo.path)
    assert location.hooks_dir == git_repo.path / ".husky" / "_" and location.inside_repository
    install(git_repo.path)
    assert (git_repo.path / ".husky" / "_" / "post-commit").exists()
    assert not (git_repo.path / ".git" / "hooks" / "post-commit").exists()
    sha = git_repo.commit("feat: search box", {"src/search.py": "x = 1\n"})
    assert wait_for(lambda: narrated(git_repo.path, sha)), hook_log(isolated_env)


def test_hooks_path_outside_repository_needs_force(git_repo, tmp_path):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    shared = tmp_path / "shared-hooks"
    git_repo.git("config", "core.hooksPath", str(shared))
    refused = run_narrate("hook", "install", "--repo", str(git_repo.path))
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "outside this repository" in refused.stderr and "--force" in refused.stderr
    assert not shared.exists()
    forced = run_narrate("hook", "install", "--force", "--repo", str(git_repo.path))
    assert forced.returncode == 0, forced.stderr
    assert "outside the repository" in forced.stdout
    assert MARKER in (shared / "post-commit").read_text()


def test_install_outside_a_repository_is_one_clear_error(tmp_path):
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    result = run_narrate("hook", "install", "--repo", str(plain), env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.startswith("narrate: error: ") and "is not a git repository" in result.stderr
    assert result.stderr.count("\n") == 1
    with pytest.raises(RepositoryError):
        locate(tmp_path / "missing")


def test_hooks_dir_not_writable(git_repo, tmp_path):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    # A file where the hooks directory should be: fails the same way for root and for everyone else.
    (git_repo.path / "hooks-file").write_text("not a directory\n")
    git_repo.git("config", "core.hooksPath", "hooks-file")
    with pytest.raises(HookError, match="not a directory|cannot create"):
        install(git_repo.path)
    result = run_narrate("hook", "install", "--repo", str(git_repo.path))
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    git_repo.git("config", "--unset", "core.hooksPath")
    if os.geteuid() == 0:
        return  # root writes through chmod 0o555; the file-in-the-way case above covers it
    hooks = git_repo.path / ".git" / "hooks"
    hooks.chmod(0o555)
    try:
        with pytest.raises(HookError, match="not writable"):
            install(git_repo.path)
    finally:
        hooks.chmod(0o755)


def test_hook_skips_during_rebase_and_later_commit_catches_up(git_repo, tmp_path):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.commit("feat: one", {"one.txt": "1\n"})
    git_repo.commit("feat: two", {"two.txt": "2\n"})
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("fix: main work", {"main.txt": "m\n"})
    fake, record = fake_python(tmp_path)
    install(git_repo.path, python=str(fake))
    assert wait_for(lambda: not record.exists(), 1)
    git_repo.git("checkout", "-q", "feature")
    git_repo.git("rebase", "-q", "main")  # runs post-commit for each replayed commit, with rebase-merge/ present
    git_repo.commit("feat: three", {"three.txt": "3\n"})  # an ordinary commit after the rebase
    assert wait_for(lambda: record.exists())
    time.sleep(0.3)
    assert record.read_text().splitlines() == ["-m narrator hook run"]  # only the ordinary commit started a job


def test_hook_skips_while_git_state_in_progress(git_repo, tmp_path):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    fake, record = fake_python(tmp_path)
    install(git_repo.path, python=str(fake))
    for state in ("rebase-apply", "CHERRY_PICK_HEAD"):
        path = git_repo.path / ".git" / state
        path.mkdir() if state.islower() else path.write_text("0" * 40 + "\n")
        subprocess.run([str(git_repo.path / ".git" / "hooks" / "post-commit")], cwd=git_repo.path, check=True)
        path.rmdir() if state.islower() else path.unlink()
    time.sleep(0.2)
    assert not record.exists()


def test_disabled_or_missing_narrator_does_nothing_silently(git_repo, tmp_path, isolated_env):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    install(git_repo.path, python=str(tmp_path / "no-such-python"))
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # no `narrate` on PATH either
    proc = subprocess.run(["git", "-C", str(git_repo.path), "commit", "-q", "--allow-empty", "-m", "x"],
                          capture_output=True, env=env)
    assert proc.returncode == 0 and proc.stderr == b""

    git_repo.write(".narrator.toml", "[hook]\nenabled = false\n")
    assert run_job(git_repo.path) == 0
    assert not narrated(git_repo.path, git_repo.git("rev-parse", "HEAD"))
    fake, record = fake_python(tmp_path)
    install(git_repo.path, python=str(fake))
    hook = git_repo.path / ".git" / "hooks" / "post-commit"
    subprocess.run([str(hook)], cwd=git_repo.path, env={**os.environ, "NARRATOR_HOOK__ENABLED": "false"}, check=True)
    time.sleep(0.2)
    assert not record.exists()


def test_worktree_installs_into_common_hooks(git_repo, tmp_path):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    wt = tmp_path / "wt"
    git_repo.git("worktree", "add", "-q", str(wt))
    result = install(wt)
    assert result.location.hook == git_repo.path / ".git" / "hooks" / "post-commit"
    assert status(git_repo.path).installed


def test_burst_of_commits_all_narrated_cache_intact(git_repo, isolated_env):
    git_repo.commit("Initial commit", {"README.md": "hello\n"})
    install(git_repo.path)
    shas = [git_repo.commit(f"feat: step {i}", {f"f{i}.py": f"x = {i}\n"}) for i in range(6)]
    assert wait_for(lambda: all(narrated(git_repo.path, s) for s in shas), 30), hook_log(isolated_env)
    db = sqlite3.connect(isolated_env / "cache" / "cache.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _hammer(args: tuple[str, int, int]) -> int:
    cache_path, worker, count = args
    with Cache(cache_path) as cache:
        for i in range(count):
            cache.put_narrations("repo", [Narration(sha=f"{worker:02d}{i:038d}", text=f"w{worker} n{i}", engine="eng",
                                                    source="heuristic")], "eng", "v1")
            cache.get_narrations("repo", [f"{worker:02d}{i:038d}"], "eng", "v1")
    return count


def test_cache_survives_many_writer_processes(tmp_path):
    path = tmp_path / "hammer.sqlite3"
    Cache(path).close()
    workers, count = 6, 60
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        done = pool.map(_hammer, [(str(path), w, count) for w in range(workers)])
    assert sum(done) == workers * count
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM narrations").fetchone()[0] == workers * count


def test_hook_script_is_posix_sh_without_python_in_foreground():
    script = hook_script(python="/opt/py/bin/python3", default_cache_dir=Path("/home/u/.cache/narrator"))
    assert script.startswith("#!/bin/sh\n")
    if shutil.which("dash"):
        assert subprocess.run(["dash", "-n"], input=script.encode()).returncode == 0
    assert subprocess.run(["sh", "-n"], input=script.encode()).returncode == 0
    launch = [line for line in script.splitlines() if "hook run" in line and "&" in line]
    assert launch and all(line.rstrip().endswith("&") and "</dev/null" in line for line in launch)


def test_pre_commit_hooks_yaml_declares_post_commit_stage():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "stages: [post-commit]" in text and "narrate hook run" in text


def test_background_job_time_limit_stops_it(tmp_path):
    code = ("import logging, sys, time; logging.basicConfig(stream=sys.stderr, level=logging.INFO);"
            "from narrator.app.hook_job import _arm_timeout; _arm_timeout(0.3); time.sleep(10)")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 124 and time.monotonic() - started < 8
    assert "hook.timeout_s" in proc.stderr
