"""Benchmark: what PyDriller's code health costs per commit, against `git show --numstat` in the same run.

For each repository and each count N (default 50 and 200), takes the newest N non-merge commits that
touch shipped source (the commits a report would measure) and times, in a fresh Python process each
(cold: no narrator cache, PyDriller/GitPython/lizard imported inside the timed run; the OS page cache
is not dropped):

  floor   `git show --numstat --format= SHA` for each commit (one git process per commit)
  health  `narrator.git.code_health.measure_code_health(repo, shas)` (per-commit times from its callback)

and prints per-commit medians, p90, totals, the import cost, and the ratio health/floor of the medians.

    python bench/code_health.py
    python bench/code_health.py --repo /work/repos/flask --counts 50 200 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPOS = ["/work/repos/flask", "/work/repos/composer"]

_CHILD = r"""
import json, subprocess, sys, time
t0 = time.perf_counter()
from narrator.git.code_health import measure_code_health
import pydriller, git, lizard  # what the first call would import anyway
t_import = time.perf_counter() - t0
repo, shas = sys.argv[1], sys.argv[2].split(",")
floor = []
for sha in shas:
    t = time.perf_counter()
    subprocess.run(["git", "-C", repo, "show", "--numstat", "--format=", sha], check=True, capture_output=True)
    floor.append(time.perf_counter() - t)
marks = [time.perf_counter()]
health = measure_code_health(repo, shas, on_commit=lambda h: marks.append(time.perf_counter()))
per = [b - a for a, b in zip(marks, marks[1:])]
files = sum(len(h.files) for h in health)
lines = sum(h.changed_lines for h in health)
with_dmm = sum(h.dmm is not None for h in health)
print(json.dumps({"import": t_import, "floor": floor, "health": per, "files": files, "lines": lines,
                  "with_dmm": with_dmm}))
"""


def source_commits(repo: str, count: int) -> list[str]:
    """The newest ``count`` non-merge commits touching shipped source, found with narrator's walker."""
    sys.path.insert(0, str(ROOT))
    from narrator.git.classify import is_source_path
    from narrator.git.walker import Repository, WalkSpec, list_commits, read_facts
    from narrator.prompts import skip_reason

    repository = Repository.open(repo)
    shas = [sha for sha, _ in list_commits(repository, WalkSpec())]
    out: list[str] = []
    step = max(count * 4, 400)
    for start in range(0, len(shas), step):
        for facts in read_facts(repository, shas[start:start + step]):
            if facts.is_merge:
                continue
            if any(is_source_path(f.path, f.language) and skip_reason(f.path) is None for f in facts.files):
                out.append(facts.sha)
                if len(out) == count:
                    return out
    return out


def run_child(repo: str, shas: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([sys.executable, "-c", _CHILD, repo, ",".join(shas)], capture_output=True, text=True,
                          env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed for {repo}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", action="append", help="repository (repeatable); default flask and composer")
    parser.add_argument("--counts", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--rounds", type=int, default=1, help="fresh processes per (repo, count); medians pooled")
    args = parser.parse_args()
    repos = args.repo or [r for r in DEFAULT_REPOS if Path(r).is_dir()]
    if not repos:
        raise SystemExit("no repository: pass --repo PATH")
    print(f"{'repository':<12} {'N':>4} {'floor med':>10} {'health med':>11} {'health p90':>11} "
          f"{'ratio':>6} {'total':>8} {'import':>8}  files lines dmm")
    for repo in repos:
        for count in args.counts:
            shas = source_commits(repo, count)
            floor: list[float] = []
            health: list[float] = []
            imports: list[float] = []
            result: dict = {}
            for _ in range(args.rounds):
                result = run_child(repo, shas)
                floor += result["floor"]
                health += result["health"]
                imports.append(result["import"])
            f_med = statistics.median(floor)
            h_med = statistics.median(health)
            p90 = statistics.quantiles(health, n=10)[-1] if len(health) >= 10 else max(health)
            total = sum(health) / args.rounds
            print(f"{Path(repo).name:<12} {len(shas):>4} {_ms(f_med):>10} {_ms(h_med):>11} {_ms(p90):>11} "
                  f"{h_med / f_med:>5.1f}x {total:>7.2f}s {_ms(statistics.median(imports)):>8}  "
                  f"{result['files']:>5} {result['lines']:>5} {result['with_dmm']:>3}")


if __name__ == "__main__":
    main()
