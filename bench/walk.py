"""Benchmark: how fast `narrate report` reads a history, against `git log --numstat` in the same run.

Builds (deterministically, with `git fast-import`) a repository of N commits with realistic churn —
a few hundred files in nested directories, 1-6 files per commit, small edits, some renames, adds and
deletes, several authors, merges of short branches — then times, alternating runs:

  floor  `git log --numstat` over the same range (what any tool must at least pay)
  cold   `narrate report --format json` with an empty cache
  warm   the same command again (facts and narrations from the cache)

and prints medians, the ratios cold/floor (target <= 5) and warm/floor (target <= 1.5), commits/second
and the peak resident memory of the narrate process.

    python bench/walk.py                      # 5,000 commits, 5 rounds
    python bench/walk.py --commits 50000 --rounds 3
    python bench/walk.py --repo /path/to/real/clone --since 2000-01-01
    python bench/walk.py --baseline-src /path/to/older/checkout   # also time that code, same rounds
    python bench/walk.py --repo CLONE --warm-only --src MAIN --baseline-src OLDER   # warm runs only, paired

With ``--baseline-src``, every round also times the narrator found in that source tree (PYTHONPATH), so a
change can be compared with the code before it under the same machine load.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

AUTHORS = [("Ada Lovelace", "ada@example.com"), ("Grace Hopper", "grace@example.com"),
           ("Alan Turing", "alan@example.com"), ("Katherine Johnson", "kj@example.com"),
           ("Linus Example", "linus@example.com"), ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")]
VERBS = ["Add", "Fix", "Update", "Refactor", "Remove", "Improve", "Document", "Speed up", "Rename", "Test"]
NOUNS = ["parser", "login flow", "export", "cache", "settings page", "API client", "retry logic", "logging",
         "report layout", "search", "billing", "upload"]
DIRS = ["src/app/api", "src/app/core", "src/app/ui", "src/app/db", "lib/util", "docs", "tests", "tests/api",
        ".github/workflows", "scripts"]
EXT = {"docs": ".md", ".github/workflows": ".yml", "scripts": ".sh"}


def _blob(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def build_repo(path: Path, commits: int, seed: int = 1) -> None:
    """Write a fast-import stream for ``commits`` commits and import it into a new repository at ``path``."""
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    # the stream goes to fast-import as it is written: 200k commits would be gigabytes held in memory
    importer = subprocess.Popen(["git", "-C", str(path), "fast-import", "--quiet"], stdin=subprocess.PIPE)
    files: dict[str, list[str]] = {}
    start = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())
    span = int(datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()) - start
    out: list[bytes] = []
    mark = 0
    main_head = None
    for i in range(commits):
        when = start + span * i // commits + rng.randint(0, 600)
        name, email = rng.choice(AUTHORS) if rng.random() < 0.97 else AUTHORS[-1]
        ops = []
        touched: set[str] = set()  # one operation per file per commit keeps the stream simple
        names = sorted(files)
        for _ in range(rng.randint(1, 6)):
            roll = rng.random()
            untouched = [n for n in (rng.choice(names) for _ in range(3)) if n not in touched] if names else []
            if not untouched or roll < 0.12:
                d = rng.choice(DIRS)
                p = f"{d}/{rng.choice(NOUNS).replace(' ', '_')}_{i}_{len(ops)}{EXT.get(d, '.py')}"
                files[p] = [f"line {k} of {p}" for k in range(rng.randint(10, 120))]
                touched.add(p)
                ops.append(("M", p))
            elif roll < 0.15 and len(files) > 50:
                p = untouched[0]
                del files[p]
                touched.add(p)
                ops.append(("D", p))
            elif roll < 0.17:
                p = untouched[0]
                new = p.rsplit("/", 1)[0] + f"/renamed_{i}_{len(ops)}" + Path(p).suffix
                files[new] = files.pop(p)
                touched.update((p, new))
                ops.append(("R", p, new))
            else:
                p = untouched[0]
                touched.add(p)
                lines = files[p]
                for _ in range(rng.randint(1, 12)):
                    k = rng.randrange(len(lines) + 1)
                    if rng.random() < 0.5 and lines:
                        lines[min(k, len(lines) - 1)] = f"changed {i} {rng.random():.6f}"
                    else:
                        lines.insert(k, f"added {i} {rng.random():.6f}")
                ops.append(("M", p))
        mark += 1
        subject = f"{rng.choice(VERBS)} {rng.choice(NOUNS)}"
        if name.startswith("dependabot"):
            subject = f"Bump library{rng.randint(1, 9)} from 1.{rng.randint(0, 9)} to 2.{rng.randint(0, 9)}"
        msg = f"{subject}\n\nDetails for change {i}.\n".encode()
        out.append(b"commit refs/heads/main\n")
        out.append(f"mark :{mark}\n".encode())
        out.append(f"author {name} <{email}> {when} +0000\n".encode())
        out.append(f"committer {name} <{email}> {when} +0000\n".encode())
        out.append(f"data {len(msg)}\n".encode() + msg)
        if main_head is not None:
            out.append(f"from :{main_head}\n".encode())
        for op in ops:
            if op[0] == "D":
                out.append(f"D {op[1]}\n".encode())
            elif op[0] == "R":
                out.append(f"R {op[1]} {op[2]}\n".encode())
            else:
                data = _blob(files[op[1]])
                out.append(f"M 100644 inline {op[1]}\ndata {len(data)}\n".encode() + data)
        out.append(b"\n")
        main_head = mark
        if len(out) > 4096:
            importer.stdin.write(b"".join(out))
            out.clear()
    importer.stdin.write(b"".join(out))
    importer.stdin.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "-C", str(path), "reset", "-q", "--hard", "main"], check=True)


# Runs narrator from a given source tree even when another checkout is installed in editable mode (an editable
# install's import hook would otherwise win over PYTHONPATH, and --baseline-src would time this tree twice).
_LAUNCH = ("import runpy, sys\n"
           "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in type(f).__module__.lower()\n"
           "                    and 'editable' not in repr(f).lower()]\n"
           "sys.path.insert(0, sys.argv.pop(1))\n"
           "import atexit, os, resource\n"
           "if os.environ.get('BENCH_RSS_FILE'):\n"
           "    atexit.register(lambda: open(os.environ['BENCH_RSS_FILE'], 'w').write(\n"
           "        str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))\n"
           "import narrator\n"
           "assert narrator.__file__.startswith(sys.path[0]), narrator.__file__\n"
           "sys.argv[0] = 'narrate'\n"
           "runpy.run_module('narrator', run_name='__main__', alter_sys=True)\n")


def narrate_command(src: str, *args: str) -> list[str]:
    """``narrate ARGS`` run from the narrator in source tree ``src``."""
    return [sys.executable, "-c", _LAUNCH, src, *args]


def load1() -> float:
    """The 1-minute load average (this machine is shared: every figure is printed with it)."""
    return os.getloadavg()[0]


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the command and its children) of one run, output discarded.

    CPU time is reported too because this 2-core machine is often shared: it is far less sensitive than
    wall time to other work running at the same moment.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{proc.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def peak_rss_kib(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[int, int]:
    """Peak RSS of one run: of the narrate (Python) process itself, and of the largest process of the run (the
    narrate process or one of its git children: ``RUSAGE_CHILDREN`` reports the largest descendant), measured
    in a fresh child so earlier runs do not mask it."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as own:
        out = subprocess.run([sys.executable, "-c", code, *cmd], env={**env, "BENCH_RSS_FILE": own.name},
                             capture_output=True, check=True, cwd=cwd)
        return int(own.read().strip() or 0), int(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repo", help="benchmark an existing repository instead of a generated one")
    parser.add_argument("--since", default="2000-01-01", help="window start (default: the whole history)")
    parser.add_argument("--until", help="window end (default: now)")
    parser.add_argument("--no-rss", action="store_true", help="skip the two peak-memory runs")
    parser.add_argument("--rss-only", action="store_true", help="only the peak-memory runs (cold and warm)")
    parser.add_argument("--git-cliff", action="store_true", help="also time `git-cliff` (a changelog generator that "
                        "reads the same history; `pip install git-cliff`) in every round, for comparison")
    parser.add_argument("--keep", action="store_true", help="keep the generated repository")
    parser.add_argument("--build-only", metavar="PATH", help="only generate the --commits repository at PATH (reuse it "
                        "with --repo PATH)")
    parser.add_argument("--baseline-src", action="append", default=[],
                        help="also time the narrator in this source tree (e.g. a worktree of main); repeatable")
    parser.add_argument("--src", help="the source tree timed as 'this code' (default: the tree of this script)")
    parser.add_argument("--warm-only", action="store_true", help="fill each code's cache once (untimed), then time "
                        "only warm runs: every round times the floor and each code's warm report in turn")
    args = parser.parse_args()
    here = str(Path(args.src).resolve()) if args.src else str(Path(__file__).resolve().parents[1])
    if args.build_only:
        t = time.perf_counter()
        build_repo(Path(args.build_only), args.commits)
        print(f"built {args.commits:,} commits in {time.perf_counter() - t:.1f} s at {args.build_only}")
        return

    work = Path(tempfile.mkdtemp(prefix="narrator-bench-"))
    try:
        if args.repo:
            repo = Path(args.repo).resolve()
        else:
            repo = work / "repo"
            t = time.perf_counter()
            build_repo(repo, args.commits)
            print(f"built {args.commits:,} commits in {time.perf_counter() - t:.1f} s at {repo}")
        until = [f"--until={args.until}"] if args.until else []
        count = int(subprocess.run(["git", "-C", str(repo), "rev-list", "--count", f"--since={args.since}", *until,
                                    "HEAD"], capture_output=True, check=True, text=True).stdout)
        floor_cmd = ["git", "-C", str(repo), "log", "--numstat", f"--since={args.since}", *until, "HEAD"]
        report_args = ["report", "--repo", str(repo), "--since", args.since, *(["--until", args.until] if args.until
                                                                               else []), "--format", "json"]
        baselines = [str(Path(b).resolve()) for b in args.baseline_src]
        sources = {"": here, **{("baseline " if i == 0 else f"baseline{i + 1} "): b for i, b in enumerate(baselines)}}
        kinds = ("warm",) if args.warm_only else ("cold", "warm")
        if args.warm_only:  # one untimed cold run per code fills the cache the timed warm runs read
            for number, src in enumerate(sources.values()):
                env = {**os.environ, "NARRATOR_CACHE_DIR": str(work / f"cache-warm-{number}"),
                       "NARRATOR_CONFIG_FILE": str(work / "none.toml")}
                timed(narrate_command(src, *report_args), env, cwd=work)
        runs: dict[str, list[tuple[float, float]]] = {"floor": []}
        loads: dict[str, list[float]] = {}
        rss: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}
        cliff_cmd = None
        if args.git_cliff:
            cliff = shutil.which("git-cliff")
            if cliff is None:
                raise SystemExit("git-cliff is not installed (pip install git-cliff)")
            # the whole history (git-cliff has no date filter), every commit, to /dev/null; no cache exists
            cliff_cmd = [cliff, "--repository", str(repo), "--output", os.devnull]
        for r in range(0 if args.rss_only else args.rounds):
            loads.setdefault("floor", []).append(load1())
            runs["floor"].append(timed(floor_cmd))
            if cliff_cmd:
                loads.setdefault("git-cliff", []).append(load1())
                runs.setdefault("git-cliff", []).append(timed(cliff_cmd, cwd=work))
            for number, (tag, src) in enumerate(sources.items()):
                cache = work / (f"cache-warm-{number}" if args.warm_only else f"cache-{r}-{number}")
                env = {**os.environ, "NARRATOR_CACHE_DIR": str(cache), "NARRATOR_CONFIG_FILE": str(work / "none.toml")}
                narrate = narrate_command(src, *report_args)
                for kind in kinds:
                    loads.setdefault(f"{tag}{kind}", []).append(load1())
                    runs.setdefault(f"{tag}{kind}", []).append(timed(narrate, env, cwd=work))
                if not args.warm_only:
                    shutil.rmtree(cache, ignore_errors=True)
        for tag, src in ({} if args.no_rss else sources).items():
            env = {**os.environ, "NARRATOR_CACHE_DIR": str(work / f"cache-mem-{len(tag)}"),
                   "NARRATOR_CONFIG_FILE": str(work / "none.toml")}
            narrate = narrate_command(src, *report_args)
            before = load1()
            rss[tag] = (peak_rss_kib(narrate, env, cwd=work), peak_rss_kib(narrate, env, cwd=work))
            loads[f"{tag}rss"] = [before, load1()]
        if args.rss_only:
            print(f"repository: {repo} ({count:,} commits in the window)")
            for tag, (cold_rss, warm_rss) in rss.items():
                print(f"  peak RSS of {tag}narrate: cold {cold_rss[0] / 1024:.0f} MiB, warm {warm_rss[0] / 1024:.0f} MiB"
                      f" (largest process of the run, git included: cold {cold_rss[1] / 1024:.0f} MiB, warm "
                      f"{warm_rss[1] / 1024:.0f} MiB) [load {loads[tag + 'rss'][0]:.2f}/{loads[tag + 'rss'][1]:.2f}]")
            return
        wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
        print(f"repository: {repo} ({count:,} commits in the window), {args.rounds} rounds, medians "
              f"(1-minute load average at the start of each run in brackets):")
        print(f"  {'':28}{'wall s':>8} {'ratio':>7} {'cpu s':>8} {'ratio':>7}  commits/s (wall)")
        rows = [("floor", "git log --numstat (floor)", "")] + ([("git-cliff", "git-cliff (whole history)", "")]
                                                               if cliff_cmd else [])
        for tag in sources:
            rows += [(f"{tag}cold", f"{tag}narrate report cold", " (target <= 5)")] if not args.warm_only else []
            rows += [(f"{tag}warm", f"{tag}narrate report warm", " (target <= 1.5)")]
        for key, label, target in rows:
            print(f"  {label:28}{wall[key]:8.3f} {wall[key] / wall['floor']:6.2f}x {cpu[key]:8.3f} "
                  f"{cpu[key] / cpu['floor']:6.2f}x  {count / wall[key]:>10,.0f}{target}  "
                  f"[load {statistics.median(loads[key]):.2f}]")
        for tag, (cold_rss, warm_rss) in rss.items():
            print(f"  peak RSS of {tag}narrate: cold {cold_rss[0] / 1024:.0f} MiB, warm {warm_rss[0] / 1024:.0f} MiB "
                  f"(largest process of the run, git included: cold {cold_rss[1] / 1024:.0f} MiB, warm "
                  f"{warm_rss[1] / 1024:.0f} MiB) [load {loads[tag + 'rss'][0]:.2f}/{loads[tag + 'rss'][1]:.2f}]")
        for tag, src in sources.items():
            print(f"  code{' (' + tag.strip() + ')' if tag else ''}: {src}")
            if not tag:
                continue
            for kind in kinds:
                pairs = [(a[0] / b[0], a[1] / b[1]) for a, b in zip(runs[kind], runs[tag + kind])]
                print(f"  {kind}: this code / {tag.strip()} = {wall[kind] / wall[tag + kind]:.2f}x wall, "
                      f"{cpu[kind] / cpu[tag + kind]:.2f}x cpu (medians); per round "
                      f"{statistics.median(w for w, _ in pairs):.2f}x wall, {statistics.median(c for _, c in pairs):.2f}x cpu"
                      " (median of the paired ratios)")
        for key, values in runs.items():
            print(f"  {key} runs (wall/cpu s [load]): "
                  f"{', '.join(f'{w:.2f}/{c:.2f} [{ld:.2f}]' for (w, c), ld in zip(values, loads[key]))}")
    finally:
        if args.keep and not args.repo:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
