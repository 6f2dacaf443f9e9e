"""Benchmark: what narrator's post-commit hook adds to `git commit`, and how soon the narration is cached.

In a throw-away repository pair (one with the hook installed, one without; same content, same machine,
same run) it makes N real `git commit`s in each, alternating between the two so that background load and
disk caches affect both sides alike, and prints:

  - median and p95 `git commit` wall time without and with the hook, and the added latency
    (targets: median <= 50 ms, p95 <= 100 ms);
  - how long after `git commit` returns the background narration lands in the cache (heuristic engine),
    measured on separate, paced commits by polling the cache database.

    python bench/hook_latency.py                 # 50 + 50 commits, 0.25 s apart
    python bench/hook_latency.py --commits 100 --gap 0

The cache and config are isolated in the temporary directory (the real user cache is never touched).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def make_repo(path: Path, env: dict[str, str]) -> None:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main", env=env)
    git(path, "config", "user.name", "Bench Mark", env=env)
    git(path, "config", "user.email", "bench@example.com", env=env)
    git(path, "config", "commit.gpgsign", "false", env=env)
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("def main():\n    return 0\n")
    git(path, "add", "-A", env=env)
    git(path, "commit", "-q", "-m", "Initial commit", env=env)


def timed_commit(repo: Path, i: int, env: dict[str, str]) -> float:
    target = repo / "src" / f"module_{i % 7}.py"
    with target.open("a") as handle:
        handle.write(f"def feature_{i}():\n    return {i}\n")
    subprocess.run(["git", "-C", str(repo), "add", "src"], check=True, env=env)
    started = time.perf_counter()
    proc = subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", f"feat: add feature {i}"],
                          capture_output=True, env=env)
    took = time.perf_counter() - started
    if proc.returncode != 0 or proc.stdout or proc.stderr:
        raise SystemExit(f"git commit misbehaved (rc {proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return took


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def landed(db_path: Path, sha: str) -> bool:
    if not db_path.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT 1 FROM narrations WHERE sha = ? LIMIT 1", (sha,)).fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=50, help="commits with and without the hook (each)")
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between commits (a person is slower)")
    parser.add_argument("--landing", type=int, default=10, help="paced commits used to time the narration landing")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="narrator-hook-bench-") as tmp:
        base = Path(tmp)
        env = {**os.environ, "NARRATOR_CACHE_DIR": str(base / "cache"),
               "NARRATOR_CONFIG_FILE": str(base / "no-config.toml"), "GIT_CONFIG_GLOBAL": str(base / "gitconfig"),
               "GIT_CONFIG_NOSYSTEM": "1"}
        env = {k: v for k, v in env.items() if not k.startswith("NARRATOR_") or k in
               ("NARRATOR_CACHE_DIR", "NARRATOR_CONFIG_FILE")}
        plain, hooked = base / "plain", base / "hooked"
        make_repo(plain, env)
        make_repo(hooked, env)
        install = subprocess.run([sys.executable, "-m", "narrator", "hook", "install", "--repo", str(hooked)],
                                 capture_output=True, text=True, env=env, cwd=ROOT)
        if install.returncode != 0:
            raise SystemExit(install.stderr.strip())

        for i in range(3):  # warm-up: page cache, git's own start-up
            timed_commit(plain, 1000 + i, env)
            timed_commit(hooked, 1000 + i, env)
            time.sleep(args.gap)
        without, with_hook = [], []
        for i in range(args.commits):
            first, second = (plain, hooked) if i % 2 == 0 else (hooked, plain)
            for repo in (first, second):
                took = timed_commit(repo, i, env)
                (with_hook if repo is hooked else without).append(took)
                time.sleep(args.gap)

        db_path = base / "cache" / "cache.sqlite3"
        time.sleep(2.0)  # let the jobs of the timed commits finish so the landing figures are not queued
        landings = []
        for i in range(args.landing):
            timed_commit(hooked, 2000 + i, env)
            sha = git(hooked, "rev-parse", "HEAD", env=env)
            started = time.perf_counter()
            while not landed(db_path, sha):
                if time.perf_counter() - started > 60:
                    raise SystemExit(f"narration of {sha[:10]} did not land within 60 s; see {base}/cache/logs")
                time.sleep(0.005)
            landings.append(time.perf_counter() - started)
            time.sleep(0.3)

        total = int(sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM narrations").fetchone()[0])
        expected = 1 + 3 + args.commits + args.landing
        ms = 1000.0
        med_without, med_with = statistics.median(without), statistics.median(with_hook)
        added_median = (med_with - med_without) * ms
        added_p95 = (p95(with_hook) - med_without) * ms
        print(f"machine: {os.cpu_count()} CPUs; git {git(plain, 'version').split()[-1]}; "
              f"{args.commits} commits each, {args.gap:.2f} s apart, alternating")
        print(f"git commit without hook: median {med_without * ms:6.1f} ms  p95 {p95(without) * ms:6.1f} ms")
        print(f"git commit with hook:    median {med_with * ms:6.1f} ms  p95 {p95(with_hook) * ms:6.1f} ms")
        print(f"added latency:           median {added_median:6.1f} ms (target <= 50)  "
              f"p95 {added_p95:6.1f} ms (target <= 100; p95 with hook minus median without)")
        print(f"ratio with/without (median): {med_with / med_without:.2f}x")
        print(f"narration lands in cache after: median {statistics.median(landings) * ms:6.0f} ms  "
              f"max {max(landings) * ms:6.0f} ms  (heuristic engine, {args.landing} paced commits)")
        print(f"narrations in cache: {total} of {expected} commits of the hooked repository")
        verdict = added_median <= 50 and added_p95 <= 100
        print("targets: " + ("met" if verdict else "NOT met"))


if __name__ == "__main__":
    main()
