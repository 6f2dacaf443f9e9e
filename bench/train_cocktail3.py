"""The GPU run of issue 10: the three-task cocktail on all the data, the ratio study and the data-size curve,
trained concurrently on one GPU, then every adapter (and today's shipped one, and the base) evaluated with the
same code on the same test splits, then the new default adapter exported with its metrics.

    python bench/train_cocktail3.py --model-dir DIR --data-root DIR --runs DIR --out DIR [--deadline-s 540]

``--model-dir`` holds ``SmolLM2-135M-Instruct.Q4_1.gguf``. Steps: convert the GGUF once; build the example
caches once (narration prompts budgeted with the tokenizer, shared by every process); start every training
at once (a 135M model leaves most of an H200 idle); when they are done, evaluate in a few concurrent processes;
export. Everything it measures goes to ``--out``: ``train_runs.json``, ``eval_*.json``/``.md``, ``runs.tar``
(summaries, logs) and ``export.tar`` (the exported adapters). ``--only`` picks runs, ``--dry-run`` prints the
commands. Each training has a time limit (``--minutes``) that still saves its adapter, and the whole script a
deadline after which it stops what is left and keeps what it has.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECIPE = "finetune/configs/smollm2-135m-cocktail3.yaml"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SHIPPED = "narrator/adapters/smollm2-cocktail"

# label -> overrides of the cocktail3 recipe (same data settings everywhere, so the caches are shared)
RUNS: dict[str, list[str]] = {
    "cocktail3": [],
    "cocktail3-8000": ["data.total_examples=8000"],
    "cocktail3-2000": ["data.total_examples=2000"],
    "cocktail3-500": ["data.total_examples=500"],
    "cocktail3-8000-nf4": ["data.total_examples=8000", "quant.load_in_4bit=true", "quant.compute_dtype=bf16"],
    "ratio-50-50": ["data.mixture=functions=0.5,commits=0.5", "data.total_examples=8000"],
    "ratio-40-60": ["data.mixture=functions=0.4,commits=0.6", "data.total_examples=8000"],
    "ratio-70-30": ["data.mixture=functions=0.7,commits=0.3", "data.total_examples=8000"],
}
# the study of issue 10 (the full three-task run is the shipped adapter, evaluated as "shipped")
STUDY = ["cocktail3-8000", "cocktail3-2000", "cocktail3-500", "cocktail3-8000-nf4",
         "ratio-50-50", "ratio-40-60", "ratio-70-30"]
# evaluation groups, one process each: labels of runs under --runs, or of the adapters below
EVAL_GROUPS = [
    ["base", "shipped-v1", "shipped", "cocktail3"],
    ["cocktail3-8000", "cocktail3-2000", "cocktail3-500", "cocktail3-8000-nf4"],
    ["ratio-50-50", "ratio-40-60", "ratio-70-30"],
]
EXPORT = ["cocktail3"]


def sets(items: list[str]) -> list[str]:
    return [x for item in items for x in ("--set", item)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", required=True)
    p.add_argument("--data-root", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=5.0, help="time limit of each training")
    p.add_argument("--deadline-s", type=float, default=540.0, help="stop everything left after this many seconds")
    p.add_argument("--only", default="", help="comma-separated run labels (default: all; 'study': the issue-10 study)")
    p.add_argument("--v1-adapter", default="", help="the first shipped adapter (prompt v1), evaluated as shipped-v1")
    p.add_argument("--skip-eval", action="store_true", help="train only (evaluate in a later call with --skip-train)")
    p.add_argument("--skip-train", action="store_true", help="evaluate and export runs already under --runs")
    p.add_argument("--generate-limit", type=int, default=200)
    p.add_argument("--set", action="append", default=[], help="extra override for every run and evaluation")
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args()
    t0 = time.time()
    out, runs = Path(args.out), Path(args.runs)
    out.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    cache = runs / "examples"
    common = [f"model.name_or_path={args.model_dir}", f"data.root={args.data_root}",
              f"data.example_cache={cache}", "train.progress=false", *args.set]
    labels = STUDY if args.only == "study" else [x for x in (args.only.split(",") if args.only else RUNS) if x]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    deadline = t0 + args.deadline_s

    def left() -> float:
        return deadline - time.time()

    def run(cmd: list[str], log: Path | None = None) -> subprocess.Popen | None:
        print("$", " ".join(cmd), flush=True)
        if args.dry_run:
            return None
        handle = open(log, "w") if log else None
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=handle or None, stderr=subprocess.STDOUT)

    def wait_all(procs: dict[str, subprocess.Popen | None], what: str) -> dict[str, int]:
        codes: dict[str, int] = {}
        while any(pr is not None and pr.poll() is None for pr in procs.values()):
            if left() < 0:
                for label, pr in procs.items():
                    if pr is not None and pr.poll() is None:
                        print(f"{what} {label}: deadline reached, stopping it", flush=True)
                        pr.terminate()
                break
            time.sleep(2)
        for label, pr in procs.items():
            if pr is not None:
                try:
                    codes[label] = pr.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pr.kill()
                    codes[label] = -9
        return codes

    if not args.dry_run:
        from finetune.config import ModelConfig
        from finetune.modeling import materialize

        print("converted:", materialize(ModelConfig(name_or_path=args.model_dir, gguf_file=GGUF)),
              f"({time.time() - t0:.0f} s)", flush=True)
    # 1. the example caches, once (train/val/test of the three tasks)
    t1 = time.time()
    prep = run([sys.executable, "-m", "finetune", "data", "-c", RECIPE, *sets(common)], runs / "prep.log")
    if prep is not None and prep.wait() != 0:
        print((runs / "prep.log").read_text()[-3000:], flush=True)
        return 1
    print(f"example caches built in {time.time() - t1:.0f} s", flush=True)

    # 2. every training at once
    summaries: dict[str, dict] = {}
    if not args.skip_train:
        t2 = time.time()
        procs = {}
        for label in labels:
            cmd = [sys.executable, "-m", "finetune", "train", "-c", RECIPE, "--set", f"name={label}",
                   "--set", f"train.output_dir={runs / label}", "--set", f"train.max_minutes={args.minutes}",
                   *sets(common), *sets(RUNS[label])]
            procs[label] = run(cmd, runs / f"{label}.log")
        codes = wait_all(procs, "training")
        print(f"trainings: {time.time() - t2:.0f} s wall, exit codes {codes}", flush=True)
    for label in labels:
        path = runs / label / "train_summary.json"
        if path.is_file():
            summaries[label] = json.loads(path.read_text())
            r = summaries[label]["result"]
            print(f"{label}: {r['steps']} steps, {r['examples_seen']} examples, {r['train_tokens']} tokens in "
                  f"{r['seconds']:.0f} s ({r['tokens_per_second']:.0f} tokens/s sharing the GPU), peak "
                  f"{r['peak_memory_bytes'] / 2**20:.0f} MiB, val {r['val_history'][-1]}, {r['stopped']}", flush=True)
        elif not args.dry_run:
            log = runs / f"{label}.log"
            print(f"{label} FAILED:\n" + (log.read_text()[-2500:] if log.is_file() else "(no log)"), flush=True)
    (out / "train_runs.json").write_text(json.dumps({"runs": summaries}, indent=1, default=str))
    if args.skip_eval:
        print(f"total {time.time() - t0:.0f} s (training only)", flush=True)
        return 0 if len(summaries) == len(labels) else 1

    # 3. evaluation, a few processes at once, same code and splits for every model
    t3 = time.time()
    procs = {}
    for i, group in enumerate(EVAL_GROUPS):
        adapters = []
        for label in group:
            if label == "base":
                continue
            where = {"shipped": ROOT / SHIPPED, "shipped-v1": Path(args.v1_adapter) if args.v1_adapter else None
                     }.get(label, runs / label / "adapter")
            if where is None:
                continue
            if (where / "adapter_config.json").is_file():
                adapters += ["--adapter", f"{label}={where}"]
        if not adapters and "base" not in group:
            continue
        cmd = [sys.executable, "-m", "finetune", "evaluate", "-c", RECIPE, *sets(common),
               "--generate-limit", str(args.generate_limit), "--out", str(out / f"eval_{i}"), *adapters]
        if "base" not in group:
            cmd.append("--no-base")
        procs[f"eval_{i}"] = run(cmd, runs / f"eval_{i}.log")
    codes = wait_all(procs, "evaluation")
    print(f"evaluations: {time.time() - t3:.0f} s wall, exit codes {codes}", flush=True)
    merged: dict = {"models": {}}
    for i in range(len(EVAL_GROUPS)):
        path = out / f"eval_{i}.json"
        if path.is_file():
            data = json.loads(path.read_text())
            merged["models"].update(data["models"])
            merged.update({k: v for k, v in data.items() if k != "models"})
        elif (runs / f"eval_{i}.log").is_file():
            print(f"eval_{i} log tail:\n" + (runs / f"eval_{i}.log").read_text()[-2000:], flush=True)
    if merged["models"]:
        from finetune.evaluate import write_results

        write_results(merged, out / "eval_all")
        print((out / "eval_all.md").read_text(), flush=True)

    # 4. export (bf16 + manifest with metrics and mixture) and bring back
    for label in EXPORT:
        if label not in summaries or not (out / "eval_all.json").is_file():
            continue
        cmd = [sys.executable, "-m", "finetune", "export", "-c", RECIPE, *sets(common), *sets(RUNS[label]),
               str(runs / label / "adapter"), str(runs / "export" / label), "--metrics", str(out / "eval_all.json"),
               "--label", label, "--compare", "shipped-v1"]
        pr = run(cmd)
        if pr is not None:
            pr.wait()
    if not args.dry_run:
        with tarfile.open(out / "export.tar", "w") as tar:
            for label in EXPORT:
                if (runs / "export" / label).is_dir():
                    tar.add(runs / "export" / label, arcname=label)
        with tarfile.open(out / "runs.tar.gz", "w:gz") as tar:
            for path in sorted(runs.glob("*.log")):
                tar.add(path, arcname=f"logs/{path.name}")
            for label in summaries:
                tar.add(runs / label / "train_summary.json", arcname=f"{label}/train_summary.json")
    print(f"total {time.time() - t0:.0f} s", flush=True)
    return 0 if len(summaries) == len(labels) else 1


if __name__ == "__main__":
    sys.exit(main())
