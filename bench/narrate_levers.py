"""Benchmark: what each CPU speed lever of the hf engine gives, on a real window of commits, in one run.

Every configuration builds the same report in-process (``narrator.app.report.build``: walk, judgment, narration,
headline; no rendering) in a fresh Python process of its own, so that settings read once per process (the
OpenMP wait policy, thread counts) apply; configurations alternate round by round so that they share the
machine's load. Prints per run the wall seconds of the build, the process's CPU seconds (less disturbed by
other work on the machine than wall time), the model load, the generation, the 1-minute load average, the prompt tokens (real and padded), the generated tokens, and how many sentences the model wrote and
the guard replaced; then medians, each lever's ratio to the new defaults, and the sentences that differ from
the defaults' (the quality check).

    python bench/narrate_levers.py                                # every lever below, 3 rounds
    python bench/narrate_levers.py --configs default,fp32,prompt384 --rounds 5
    python bench/narrate_levers.py --repo /work/repos/flask --since 2026-02-18 --until 2026-02-21

A lever is measured against ``default`` (the engine as it ships) by turning it off or changing it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

CONFIGS: dict[str, dict] = {
    "default": {},
    "fp32": {"settings": {"dtype": "float32"}},  # bf16 off (the old choice on CPUs without AMX)
    "ompdefault": {"env": {"OMP_WAIT_POLICY": ""}},  # libgomp's own default (what narrator had before PASSIVE)
    "spin": {"env": {"OMP_WAIT_POLICY": "ACTIVE"}},  # OpenMP threads always spin between operations
    "threads1": {"settings": {"threads": 1}},
    "unmerged": {"attrs": {"merge_adapter": False}},  # LoRA applied at every step instead of merged at load
    "nostop": {"attrs": {"stop_at_sentence": False}},  # generate until an end token or max_new_tokens
    "batch1": {"settings": {"batch_size": 1}},
    "batch4": {"settings": {"batch_size": 4}},
    "batch16": {"settings": {"batch_size": 16}},
    "prompt384": {"settings": {"max_prompt_tokens": 384}},  # a shorter narration prompt than the trained 512
    "prompt256": {"settings": {"max_prompt_tokens": 256}},
    "noheadline": {"settings": {"headline": False}},
    "bare": {"settings": {"adapter": "none"}},  # the stand-in without its adapter (it rambles more)
    "bare-nostop": {"settings": {"adapter": "none"}, "attrs": {"stop_at_sentence": False}},
}


def child(config_name: str, repo: str, since: str, until: str) -> None:
    """Build the report once with this configuration and print one JSON line."""
    config = CONFIGS[config_name]
    started = time.perf_counter()
    from narrator.app.report import ReportRequest, build
    from narrator.app.session import Session

    overrides = {"engine": "hf", **{f"engines.hf.{k}": v for k, v in config.get("settings", {}).items()}}
    load_before = os.getloadavg()[0]
    with Session.open(repo, overrides, use_cache=False) as session:
        engine = session.engine()
        for attr, value in config.get("attrs", {}).items():
            setattr(engine, attr, value)
        t = time.perf_counter()
        report = build(session, ReportRequest(since=since, until=until, engine="hf"))
        build_s = time.perf_counter() - t
    batches = engine.batches
    stats = report.engine.get("narrations", {})
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "config": config_name, "wall": time.perf_counter() - started, "build": build_s,
        "cpu": usage.ru_utime + usage.ru_stime,
        "load": engine.info.seconds if engine.info else 0.0, "dtype": engine.info.dtype if engine.info else "",
        "threads": engine.info.threads if engine.info else 0,
        "generate": sum(b["seconds"] for b in batches), "calls": len(batches),
        "prompt_tokens": sum(b["prompt_tokens"] for b in batches),
        "padded_tokens": sum(b["rows"] * b["prompt_length"] for b in batches),
        "new_tokens": sum(b["new_tokens"] for b in batches), "steps": sum(b["steps"] for b in batches),
        "batches": batches, "model": stats.get("model", 0),
        "replaced": stats.get("rejected", stats.get("fallback", 0)),
        "load_before": load_before, "load_after": os.getloadavg()[0],
        "headline": report.headline if report.engine.get("headline_source") == "model" else None,
        "sentences": {c.sha[:10]: [c.narration, c.narration_source, c.subject] for c in report.commits},
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default="/work/repos/flask")
    parser.add_argument("--since", default="2016-08-19")
    parser.add_argument("--until", default="2016-08-20")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", help="write every run as JSON lines to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.repo, args.since, args.until)
        return
    names = [n for n in args.configs.split(",") if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        sys.exit(f"unknown configurations: {', '.join(unknown)} (known: {', '.join(CONFIGS)})")
    work = Path(tempfile.mkdtemp(prefix="narrator-levers-"))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("NARRATOR_") and k != "OMP_WAIT_POLICY"}
    base_env.update({"NARRATOR_CONFIG_FILE": str(work / "none.toml"), "HF_HUB_OFFLINE": "1",
                     "PYTHONPATH": str(HERE)})
    if "NARRATOR_CACHE_DIR" in os.environ:  # the converted GGUF lives there
        base_env["NARRATOR_CACHE_DIR"] = os.environ["NARRATOR_CACHE_DIR"]
    out = open(args.out, "a") if args.out else None
    print(f"window {args.repo} {args.since}..{args.until}; configs {', '.join(names)}; {args.rounds} rounds; "
          f"{os.cpu_count()} CPUs", flush=True)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            env = {**base_env, **CONFIGS[name].get("env", {})}
            proc = subprocess.run([sys.executable, __file__, "--child", name, "--repo", args.repo, "--since",
                                   args.since, "--until", args.until], env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"{name} failed: {proc.stderr[-3000:]}")
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[name].append(run)
            if out:
                out.write(json.dumps(run) + "\n")
                out.flush()
            print(f"  r{r} {name:<11} wall {run['wall']:6.1f}  cpu {run['cpu']:6.1f}  load-model {run['load']:5.1f}  generate "
                  f"{run['generate']:6.1f} s ({run['calls']} calls)  prompt {run['prompt_tokens']} tok (padded "
                  f"{run['padded_tokens']})  new {run['new_tokens']} in {run['steps']} steps  model {run['model']} / replaced "
                  f"{run['replaced']}  1-min load {run['load_before']:.2f}->{run['load_after']:.2f}", flush=True)
    print("\nmedians (ratio: config / default, < 1 is faster):")
    med = {n: {k: statistics.median(r[k] for r in rs) for k in ("wall", "generate", "load", "cpu")}
           for n, rs in runs.items()}
    ref = med.get("default")
    for name, m in med.items():
        loads = [r["load_before"] for r in runs[name]]
        ratio = (f"  x{m['wall'] / ref['wall']:.2f} wall, x{m['generate'] / ref['generate']:.2f} generate, "
                 f"x{m['cpu'] / ref['cpu']:.2f} cpu") if ref else ""
        last = runs[name][-1]
        print(f"  {name:<11} wall {m['wall']:6.1f}  cpu {m['cpu']:6.1f}  generate {m['generate']:6.1f}  load-model "
              f"{m['load']:5.1f}{ratio}"
              f"  ({last['dtype']}, {last['threads']} threads; model {last['model']} / replaced {last['replaced']};"
              f" 1-min load {min(loads):.2f}-{max(loads):.2f})")
    if "default" in runs:
        base = runs["default"][-1]["sentences"]
        for name in names:
            if name == "default":
                continue
            other = runs[name][-1]["sentences"]
            diff = [sha for sha in base if other.get(sha, [None])[0] != base[sha][0]]
            print(f"\n{name}: {len(diff)} of {len(base)} sentences differ from default")
            for sha in diff:
                print(f"  {sha} {base[sha][2][:70]}\n      default {base[sha][1][0]} {base[sha][0]}\n      "
                      f"{name:<7} {other[sha][1][0]} {other[sha][0]}")


if __name__ == "__main__":
    main()
