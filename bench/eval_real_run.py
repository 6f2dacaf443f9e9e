"""The real run, evaluation half: base and the three adapters on the test splits, plus eval throughput.

    python bench/eval_real_run.py --model-dir DIR --data-root DIR --runs DIR --out DIR

Writes ``eval_test.json``/``eval_test.md`` (CE per dataset and language for every model, BLEU/ROUGE on a
sample), ``eval_throughput.json`` and ``cocktail_export.tar`` (the exported bf16 adapter + manifest).
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

LABELS = ("cocktail", "commits-only", "functions-only")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", required=True)
    p.add_argument("--data-root", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--generate-limit", type=int, default=100)
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--set", action="append", default=[], help="extra override for evaluate and export")
    args = p.parse_args()
    out = Path(args.out)
    runs = Path(args.runs)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    recipe = str(ROOT / "finetune/configs/smollm2-135m-cocktail.yaml")
    common = ["--set", f"model.name_or_path={args.model_dir}", "--set", f"data.root={args.data_root}"]
    common += [x for o in args.set for x in ("--set", o)]
    t0 = time.time()
    cmd = [sys.executable, "-m", "finetune", "evaluate", "-c", recipe, *common,
           "--set", "eval.batch_size=64", "--set", "train.progress=false",
           "--generate-limit", str(args.generate_limit), "--out", str(out / "eval_test")]
    for label in LABELS:
        if (runs / label / "adapter").is_dir():
            cmd += ["--adapter", f"{label}={runs / label / 'adapter'}"]
    print("$", " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    print(f"evaluation took {time.time() - t0:.0f} s (exit {rc})", flush=True)

    if (runs / "cocktail" / "adapter").is_dir():
        export_dir = runs / "export" / "smollm2-cocktail"
        cmd = [sys.executable, "-m", "finetune", "export", "-c", recipe, *common, str(runs / "cocktail" / "adapter"),
               str(export_dir), "--metrics", str(out / "eval_test.json"), "--label", "cocktail"]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, env=env)
        with tarfile.open(out / "cocktail_export.tar", "w") as tar:
            tar.add(export_dir, arcname="smollm2-cocktail")

    if not args.skip_throughput:
        t1 = time.time()
        cmd = [sys.executable, str(ROOT / "bench/eval_throughput.py"), "--config", recipe, "--limit", "64",
               "--json", str(out / "eval_throughput.json"), "--set", f"model.name_or_path={args.model_dir}",
               "--set", f"data.root={args.data_root}", "--set", "eval.batch_size=32"]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, env=env)
        print(f"throughput took {time.time() - t1:.0f} s", flush=True)
    print(f"total {time.time() - t0:.0f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
