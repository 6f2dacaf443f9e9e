"""Benchmark: LoRA training throughput (tokens/s) and peak GPU memory of the stand-in, NF4 vs bf16.

On CUDA it trains the same steps in each mode, each in a fresh process, and prints tokens/s, peak memory
and the ratios against the first mode (the baseline). Default modes: the recipe's own settings against
NF4 4-bit base; ``--packing`` compares the packed bf16 recipe (completion-only head) with NF4 packed, and
with the unpacked batches of the first stand-in run (batch 16, padding to the longest, baseline). On the CPU
it runs the smoke recipe without and with gradient checkpointing (the baseline).

    python bench/train_throughput.py --config finetune/configs/smollm2-135m-cocktail.yaml --steps 60
    python bench/train_throughput.py --config finetune/configs/smollm2-135m-cocktail3.yaml --steps 30 --packing
    python bench/train_throughput.py --config finetune/configs/cpu-smoke.yaml --steps 4 --cpu

Figures count every non-padding token of prompt and completion; warm-up steps are excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_one(config: str, overrides: list[str], steps: int, warmup: int) -> dict:
    """Train ``warmup`` steps, then ``steps`` timed steps (one process, one mode)."""
    from finetune.config import load_config
    from finetune.train import train

    out = tempfile.mkdtemp(prefix="bench-train-")
    base = [f"train.output_dir={out}", "train.eval_every=0", "train.save_every=0", "train.val_examples=8",
            "train.progress=false", f"data.total_examples={(steps + warmup) * 96}"] + overrides
    cfg = load_config(config, base + [f"train.max_steps={warmup + steps}"])
    result = train(cfg)
    return {"tokens_per_second": result.steady_tokens_per_second, "tokens": result.train_tokens,
            "seconds": result.seconds, "steps": steps, "peak_memory_bytes": result.peak_memory_bytes}


def spawn(args: argparse.Namespace, label: str, overrides: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--config", args.config, "--steps", str(args.steps), "--warmup",
           str(args.warmup), "--one", label] + [x for o in args.set + overrides for x in ("--set", o)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"{label} failed:\n{proc.stderr[-3000:]}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--steps", type=int, default=60, help="timed optimizer steps per mode")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before timing (finetune.train.WARMUP_STEPS)")
    p.add_argument("--cpu", action="store_true", help="CPU smoke benchmark instead of NF4 vs bf16")
    p.add_argument("--packing", action="store_true",
                   help="unpacked batch 16 (baseline) vs packed bf16 vs packed NF4 vs a bigger packed batch")
    p.add_argument("--set", action="append", default=[], help="extra config override")
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print("RESULT " + json.dumps(run_one(args.config, args.set, args.steps, args.warmup)), flush=True)
        return 0
    if args.cpu:
        modes = {"cpu_fp32_lora": ["train.device=cpu", "quant.load_in_4bit=false", "train.gradient_checkpointing=false"],
                 "cpu_fp32_lora_checkpointing (baseline)": ["train.device=cpu", "quant.load_in_4bit=false",
                                                            "train.gradient_checkpointing=true"]}
    elif args.packing:
        modes = {"unpacked_bf16_batch16 (baseline)": ["train.packing=false", "train.batch_size=16",
                                                      "train.grad_accum=1", "quant.load_in_4bit=false"],
                 "packed_bf16_8k_tokens": ["train.packing=true", "quant.load_in_4bit=false"],
                 "packed_nf4_8k_tokens": ["train.packing=true", "quant.load_in_4bit=true"],
                 "packed_bf16_32k_tokens": ["train.packing=true", "quant.load_in_4bit=false",
                                            "train.tokens_per_step=32768"]}
    else:
        modes = {"nf4_lora": ["quant.load_in_4bit=true"],
                 "bf16_lora (baseline)": ["quant.load_in_4bit=false", "model.dtype=bf16"]}
    results = {}
    for label, overrides in modes.items():
        try:
            results[label] = spawn(args, label, overrides)
        except SystemExit as exc:  # one failing mode (e.g. no bitsandbytes) must not lose the others
            print(exc, flush=True)
            continue
        r = results[label]
        mem = f", peak GPU memory {r['peak_memory_bytes'] / 2**20:.0f} MiB" if r["peak_memory_bytes"] else ""
        print(f"{label}: {r['tokens_per_second']:.0f} tokens/s over {r['steps']} steps{mem}", flush=True)
    if len(results) < 2:
        return 1
    items = list(results.items())
    if not args.packing and not args.cpu:  # NF4 first, bf16 baseline second: ratio NF4 / bf16
        items = items[::-1]
    (base_label, b) = items[0]
    for label, a in items[1:]:
        print(f"ratio {label} / {base_label}: tokens/s x{a['tokens_per_second'] / b['tokens_per_second']:.2f}", end="")
        if a["peak_memory_bytes"] and b["peak_memory_bytes"]:
            print(f", peak memory x{a['peak_memory_bytes'] / b['peak_memory_bytes']:.2f}")
        else:
            print()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
