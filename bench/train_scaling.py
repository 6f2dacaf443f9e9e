"""Benchmark: training tokens/s on 1 vs N processes, back to back (scaling efficiency of the DDP path).

Each run is a real multi-process launch, ``python -m finetune launch -n P train ...`` (accelerate launch:
one process per GPU, gradients all-reduced; NVLink multicast off), with the same per-process batch, so P
processes train P times the tokens per step (weak scaling); with ``--global-batch G`` each of the P
processes takes G/P examples instead, so every run trains the same batches (strong scaling, what the
2-GPU recipe does) and its final validation CE is comparable too. Efficiency = tokens/s(N) / (N x tokens/s(1)).
Rounds alternate 1, N, 1, N, ... and the medians are reported; tokens/s is the steady figure of
``train_summary.json`` (the first ``finetune.train.WARMUP_STEPS`` steps excluded), summed over ranks.

The 2-GPU run (``nvidia-h200-x2``; the recipe's per-GPU batch 8, 5 warm-up + 60 timed steps):

    python bench/train_scaling.py --config finetune/configs/smollm2-135m-cocktail-2gpu.yaml \\
        --processes 1,2 --steps 60 --rounds 2 --json bench-train-scaling-2gpu.json

On the CPU (gloo; a tiny random Llama built on the fly, data from tests/fixtures/finetune; one thread
per process, so 1 vs 2 processes is 1 vs 2 cores):

    python bench/train_scaling.py --cpu --tiny --processes 1,2 --steps 40 --rounds 3
    python bench/train_scaling.py --cpu --tiny --processes 1,2 --steps 60 --rounds 2 --global-batch 8
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "fixtures" / "finetune" / "data"
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def build_tiny_model(out_dir: Path, *, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A random-weight Llama and a BPE tokenizer trained on the fixture records, saved as a model directory.

    ``python -m finetune train --set model.name_or_path=OUT_DIR`` loads it like any local model (also
    used by tests/test_distributed.py).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = [line for task in ("functions", "commits")
             for line in gzip.open(FIXTURES / task / "train.jsonl.gz", "rt", encoding="utf-8")]
    texts += ["### System:\n### Instruction:\n### Response:\nExplain in one sentence what this change does."]
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=copy.deepcopy(raw), bos_token="<s>", eos_token="<|im_end|>",
                                  pad_token="<pad>")
    tok.chat_template = CHATML
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=1024, tie_word_embeddings=True, initializer_range=0.2,
                         pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id)
    out_dir = Path(out_dir)
    LlamaForCausalLM(config).save_pretrained(str(out_dir))
    tok.save_pretrained(str(out_dir))
    return out_dir


def tiny_overrides(model_dir: Path) -> list[str]:
    """A CPU recipe for the tiny model: fp32 LoRA, short sequences, fixture data, no checkpoints."""
    return [f"model.name_or_path={model_dir}", "quant.load_in_4bit=false", "train.device=cpu",
            f"data.root={FIXTURES}", "data.max_length=192", "data.max_target_tokens=32", "train.optimizer=adamw",
            "train.lr=1e-2", "train.scheduler=constant", "train.warmup_steps=0", "train.batch_size=4",
            "train.gradient_checkpointing=false", "lora.r=8", "lora.alpha=16", "lora.dropout=0",
            "train.epochs=1000"]


def run_once(args: argparse.Namespace, processes: int, overrides: list[str]) -> dict:
    from finetune import distributed
    from finetune.train import WARMUP_STEPS

    out = Path(tempfile.mkdtemp(prefix=f"bench-scaling-{processes}p-"))
    if args.global_batch:
        if args.global_batch % processes:
            raise SystemExit(f"--global-batch {args.global_batch} does not split over {processes} processes")
        overrides = overrides + [f"train.batch_size={args.global_batch // processes}"]
    sets = overrides + [f"train.output_dir={out}", "train.eval_every=0", "train.save_every=0",
                        f"train.val_examples={args.val_examples}", "train.progress=false", "train.log_every=1000",
                        f"train.max_steps={WARMUP_STEPS + args.steps}"] + args.set
    finetune_args = ["train"] + (["-c", args.config] if args.config else []) + [x for s in sets for x in ("--set", s)]
    argv = distributed.launch_argv(finetune_args, processes, cpu=args.cpu)
    env = distributed.launch_env(processes, cpu=args.cpu, threads=args.threads)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    summary_path = out / "train_summary.json"
    if proc.returncode != 0 or not summary_path.is_file():
        raise SystemExit(f"{processes}-process run failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    summary = json.loads(summary_path.read_text())
    result = summary["result"]
    return {"processes": processes, "world_size": summary["world_size"],
            "steady_tokens_per_second": result["steady_tokens_per_second"],
            "tokens_per_second": result["tokens_per_second"], "steps": result["steps"],
            "train_seconds": result["seconds"], "wall_seconds": round(wall, 2),
            "peak_memory_bytes": result["peak_memory_bytes"], "device": summary["device"],
            "final_train_loss": result["final_train_loss"], "final_val": result["val_history"][-1],
            "batch_size_per_process": summary["config"]["train"]["batch_size"], "output_dir": str(out),
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "command": distributed.shell_line(argv, env, cpu=args.cpu)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", help="recipe (GPU: finetune/configs/smollm2-135m-cocktail-2gpu.yaml)")
    p.add_argument("--processes", default="1,2", help="process counts; the first is the baseline")
    p.add_argument("--steps", type=int, default=60, help="timed optimizer steps per run (after the warm-up)")
    p.add_argument("--rounds", type=int, default=2, help="times each process count runs (alternating)")
    p.add_argument("--cpu", action="store_true", help="CPU processes with gloo")
    p.add_argument("--threads", type=int, default=1, help="threads per CPU process")
    p.add_argument("--tiny", action="store_true", help="a tiny random Llama on the fixture data (no model files)")
    p.add_argument("--tiny-hidden", type=int, default=64)
    p.add_argument("--tiny-layers", type=int, default=2)
    p.add_argument("--val-examples", type=int, default=64, help="validation examples for the final val CE")
    p.add_argument("--global-batch", type=int, help="split this many examples per step over the processes")
    p.add_argument("--set", action="append", default=[], help="extra config override (repeatable)")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args()
    if not args.config and not args.tiny:
        p.error("give --config RECIPE or --tiny")
    counts = [int(x) for x in args.processes.split(",") if x.strip()]
    overrides: list[str] = []
    if args.tiny:
        model_dir = build_tiny_model(Path(tempfile.mkdtemp(prefix="bench-scaling-model-")) / "tiny",
                                     hidden=args.tiny_hidden, layers=args.tiny_layers)
        overrides = tiny_overrides(model_dir)
    runs: list[dict] = []
    for round_ in range(args.rounds):
        for n in counts:
            r = run_once(args, n, overrides)
            runs.append({"round": round_ + 1, **r})
            print(f"round {round_ + 1}: {n} process(es): {r['steady_tokens_per_second']:.0f} tokens/s "
                  f"(steady, summed over ranks; {r['steps']} steps, {r['train_seconds']:.1f} s training, "
                  f"{r['wall_seconds']:.1f} s wall; final val CE {r['final_val']['all']:.4f}; load average {r['load_average_1min'][0]:.1f} -> "
                  f"{r['load_average_1min'][1]:.1f} on {os.cpu_count()} cores)", flush=True)
    medians = {n: statistics.median(r["steady_tokens_per_second"] for r in runs if r["processes"] == n)
               for n in counts}
    base_n = counts[0]
    print(f"device: {runs[-1]['device']}")
    scaling = {}
    for n in counts:
        speedup = medians[n] / medians[base_n]
        eff = speedup * base_n / n
        scaling[n] = {"median_tokens_per_second": round(medians[n], 1), "speedup": round(speedup, 3),
                      "efficiency": round(eff, 3)}
        print(f"{n} process(es): median {medians[n]:.0f} tokens/s, x{speedup:.2f} vs {base_n} "
              f"(baseline), scaling efficiency {eff:.0%}")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "scaling": scaling, "argv": sys.argv,
                                               "cpu_count": os.cpu_count()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
