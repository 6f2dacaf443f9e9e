"""Benchmark: cross-entropy evaluation throughput (examples/s) of the stand-in base model, CPU vs GPU.

Measures the same test examples on the CPU (the baseline, fp32) and, when CUDA is present, on the GPU
(the recipe's quantization: NF4 by default, or bf16 with --set quant.load_in_4bit=false), in one run,
and prints examples/s and the GPU/CPU ratio.

    python bench/eval_throughput.py --config finetune/configs/smollm2-135m-cocktail.yaml --limit 64
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(cfg, device: str, limit: int, gpu_limit: int) -> dict:
    import torch

    from finetune.data.mixture import build_bundle
    from finetune.evaluate import cross_entropy
    from finetune.modeling import load_model, load_tokenizer

    bundle = build_bundle(cfg.data, splits=("test",))
    n = gpu_limit if device == "cuda" else limit
    examples = [e for ex in bundle.test.values() for e in ex[: n // 2]]
    quant = cfg.quant
    if device == "cpu":
        quant.load_in_4bit = False
        cfg.model.dtype = "fp32"
    tok = load_tokenizer(cfg.model)
    model = load_model(cfg.model, quant, device, for_training=False, device_index=0 if device == "cuda" else None)
    kwargs = dict(batch_size=cfg.eval.batch_size, max_length=cfg.data.max_length,
                  max_target_tokens=cfg.data.max_target_tokens, device=device)
    cross_entropy(model, tok, examples[: cfg.eval.batch_size], **kwargs)  # warm-up
    t0 = time.perf_counter()
    result = cross_entropy(model, tok, examples, **kwargs)
    seconds = time.perf_counter() - t0
    out = {"device": device, "examples": len(examples), "seconds": seconds, "examples_per_second": len(examples) / seconds,
           "threads": torch.get_num_threads(), "load_in_4bit": quant.load_in_4bit,
           "ce": {t: v["ce"] for t, v in result["tasks"].items()}}
    if device == "cuda":
        out["gpu"] = torch.cuda.get_device_name()
    return out


def main() -> int:
    from finetune.config import load_config

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--limit", type=int, default=64, help="test examples measured on the CPU (half per task)")
    p.add_argument("--gpu-limit", type=int, default=2000, help="test examples measured on the GPU")
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--json")
    args = p.parse_args()
    import torch

    results = {"cpu (baseline)": measure(load_config(args.config, args.set), "cpu", args.limit, args.gpu_limit)}
    if torch.cuda.is_available():
        results["cuda"] = measure(load_config(args.config, args.set), "cuda", args.limit, args.gpu_limit)
    for label, r in results.items():
        print(f"{label}: {r['examples_per_second']:.2f} examples/s ({r['examples']} examples in {r['seconds']:.1f} s, "
              f"4-bit={r['load_in_4bit']}, {r['threads']} CPU threads)")
    if "cuda" in results:
        print(f"ratio GPU / CPU: x{results['cuda']['examples_per_second'] / results['cpu (baseline)']['examples_per_second']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
