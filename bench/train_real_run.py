"""The real run, training half: NF4-vs-bf16 throughput, then the three stand-in adapters in parallel.

Runs on one GPU machine. Converts the GGUF stand-in once, measures training throughput (NF4 vs bf16,
``bench/train_throughput.py``), then trains cocktail 50/50, commits-only and functions-only at the same
time (three processes share the GPU: a 135M model leaves it mostly idle) and collects their summaries.

    python bench/train_real_run.py --model-dir DIR --data-root DIR --runs DIR --out DIR [--minutes 6]

Prints every figure; writes ``train_runs.json`` and ``train_throughput.json`` and ``adapters.tar`` to --out.
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

RUNS = {"cocktail": "smollm2-135m-cocktail.yaml", "commits-only": "smollm2-135m-commits.yaml",
        "functions-only": "smollm2-135m-functions.yaml"}
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", required=True)
    p.add_argument("--data-root", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=6.0, help="time limit of each training run")
    p.add_argument("--bench-steps", type=int, default=60)
    p.add_argument("--bench", action="store_true", help="also run bench/train_throughput.py first")
    p.add_argument("--set", action="append", default=[], help="extra override for every run")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    common = [f"model.name_or_path={args.model_dir}", f"data.root={args.data_root}", *args.set]
    t0 = time.time()

    from finetune.config import ModelConfig
    from finetune.modeling import materialize

    print("converted:", materialize(ModelConfig(name_or_path=args.model_dir, gguf_file=GGUF)),
          f"({time.time() - t0:.0f} s)", flush=True)

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if args.bench:
        t1 = time.time()
        cmd = [sys.executable, str(ROOT / "bench/train_throughput.py"), "--config",
               str(ROOT / "finetune/configs" / RUNS["cocktail"]), "--steps", str(args.bench_steps),
               "--json", str(out / "train_throughput.json")] + [x for o in common for x in ("--set", o)]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, env=env, check=False)
        print(f"throughput bench took {time.time() - t1:.0f} s", flush=True)

    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    procs = {}
    t2 = time.time()
    for label, recipe in RUNS.items():
        cmd = [sys.executable, "-m", "finetune", "train", "-c", str(ROOT / "finetune/configs" / recipe),
               "--set", f"train.output_dir={runs / label}", "--set", f"train.max_minutes={args.minutes}",
               "--set", "train.progress=false"] + [x for o in common for x in ("--set", o)]
        print("$", " ".join(cmd), flush=True)
        log = open(runs / f"{label}.log", "w")
        procs[label] = (subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), log)
    summaries = {}
    for label, (proc, log) in procs.items():
        proc.wait()
        log.close()
        path = runs / label / "train_summary.json"
        if proc.returncode != 0 or not path.is_file():
            print(f"{label} FAILED (exit {proc.returncode}):\n" + (runs / f"{label}.log").read_text()[-3000:])
            continue
        summaries[label] = json.loads(path.read_text())
    wall = time.time() - t2
    for label, s in summaries.items():
        r = s["result"]
        print(f"{label}: {r['steps']} steps, {r['examples_seen']} examples, {r['train_tokens']} tokens in "
              f"{r['seconds']:.0f} s ({r['tokens_per_second']:.0f} tokens/s, while sharing the GPU with the "
              f"other runs), peak {r['peak_memory_bytes'] / 2**20:.0f} MiB, final train loss "
              f"{r['final_train_loss']:.3f}, val {r['val_history'][-1]}, {r['stopped']}, "
              f"{r.get('data_seconds', 0):.0f} s of it in batch preparation")
    print(f"three runs in parallel: {wall:.0f} s wall", flush=True)
    (out / "train_runs.json").write_text(json.dumps({"wall_seconds": wall, "runs": summaries}, indent=2))
    from finetune.export import export_adapter

    for label, s in summaries.items():  # bf16 copies (about 10 MB each) come back, one tar per run
        bf16 = runs / "bf16" / label
        export_adapter(runs / label / "adapter", bf16, base_model={"name_or_path": args.model_dir, "gguf_file": GGUF},
                       data_hashes=s["data"]["hashes"], command=s.get("command", ""))
        with tarfile.open(out / f"{label}.tar", "w") as tar:
            tar.add(bf16, arcname=f"{label}/adapter")
            tar.add(runs / label / "train_summary.json", arcname=f"{label}/train_summary.json")
            tar.add(runs / f"{label}.log", arcname=f"{label}/train.log")
    print(f"total {time.time() - t0:.0f} s")
    return 0 if len(summaries) == len(RUNS) else 1


if __name__ == "__main__":
    sys.exit(main())
