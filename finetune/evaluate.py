"""Evaluation of the base model and of adapters on the test splits, printed as the study's table.

Cross-entropy is the mean over completion tokens (the same tokens training learns), per dataset and per
language, with perplexity ``exp(CE)``. Generation metrics (greedy decoding on a sample): smoothed
sentence BLEU-4 B-Norm and ROUGE-L (``finetune.metrics``). Results go to JSON and Markdown.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

from finetune.config import RunConfig
from finetune.data.mixture import TokenCounter, build_bundle
from finetune.data.schema import Example
from finetune.features import collate, completion_loss_per_example, encode_all, prompt_ids
from finetune.metrics import corpus_bleu_bnorm, mean_rouge_l

log = logging.getLogger(__name__)

BASE = "base"


def cross_entropy(model: Any, tokenizer: Any, examples: Sequence[Example], *, batch_size: int, max_length: int,
                  max_target_tokens: int, device: str, progress: bool = False) -> dict[str, Any]:
    """Token-weighted CE (and perplexity) over ``examples``: overall, per task and per (task, language)."""
    import torch
    from tqdm.auto import tqdm

    encoded = encode_all(tokenizer, examples, max_length, max_target_tokens)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))  # less padding
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    model.eval()
    start = time.perf_counter()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else _null()
    with torch.no_grad(), autocast:
        for a in tqdm(range(0, len(order), batch_size), disable=not progress, desc="CE", dynamic_ncols=True):
            idx = order[a:a + batch_size]
            batch = {k: v.to(device) for k, v in collate([encoded[i] for i in idx], pad_id).items()}
            loss_sums, counts = completion_loss_per_example(model, batch)
            for j, i in enumerate(idx):
                key = (examples[i].task, examples[i].language)
                sums[key][0] += float(loss_sums[j])
                sums[key][1] += int(counts[j])
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {**aggregate(sums), "examples": len(examples), "seconds": seconds,
            "examples_per_second": len(examples) / max(seconds, 1e-9)}


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def aggregate(sums: Mapping[tuple[str, str], Sequence[float]]) -> dict[str, Any]:
    per_task: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    per_lang: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (task, lang), (total, count) in sums.items():
        per_task[task][0] += total
        per_task[task][1] += count
        ce = total / max(count, 1)
        per_lang[task][lang] = {"ce": ce, "ppl": math.exp(ce), "tokens": int(count)}
    tasks = {t: {"ce": s / max(n, 1), "ppl": math.exp(s / max(n, 1)), "tokens": int(n)} for t, (s, n) in
             per_task.items()}
    return {"tasks": tasks, "languages": {t: dict(v) for t, v in per_lang.items()}}


def generate(model: Any, tokenizer: Any, examples: Sequence[Example], *, max_new_tokens: int, max_length: int,
             device: str, batch_size: int = 16) -> list[str]:
    """Greedy answers, one line each, for ``examples`` (left-padded batches)."""
    import torch

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    prompts = [prompt_ids(tokenizer, e.user_text, max_length - max_new_tokens)[0] for e in examples]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: dict[int, str] = {}
    model.eval()
    for a in range(0, len(order), batch_size):
        idx = order[a:a + batch_size]
        width = max(len(prompts[i]) for i in idx)
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for j, i in enumerate(idx):
            ids[j, width - len(prompts[i]):] = torch.tensor(prompts[i])
            mask[j, width - len(prompts[i]):] = 1
        with torch.no_grad():
            gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                                 max_new_tokens=max_new_tokens, pad_token_id=pad_id,
                                 eos_token_id=stop_token_ids(tokenizer))
        for j, i in enumerate(idx):
            out[i] = answer_text(tokenizer, gen[j, width:])
    return [out[i] for i in range(len(examples))]


def stop_token_ids(tokenizer: Any) -> list[int]:
    """EOS and every other special token: a chat model that opens a new turn (``<|im_start|>``) is done."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    ids += [i for i in getattr(tokenizer, "all_special_ids", []) if i not in ids]
    return ids


def answer_text(tokenizer: Any, ids: Any) -> str:
    """The generated answer up to the first special token, as one line."""
    special = set(getattr(tokenizer, "all_special_ids", [])) | {tokenizer.eos_token_id}
    kept = []
    for token in (ids.tolist() if hasattr(ids, "tolist") else list(ids)):
        if token in special:
            if kept:
                break
            continue
        kept.append(token)
    return first_line(tokenizer.decode(kept, skip_special_tokens=True))


def first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def sample_for_generation(test: Mapping[str, Sequence[Example]], per_task: int, seed: int) -> dict[str, list[Example]]:
    import random

    return {t: (random.Random(f"{seed}:gen:{t}").sample(list(ex), per_task) if len(ex) > per_task else list(ex))
            for t, ex in test.items()}


def evaluate_models(cfg: RunConfig, adapters: Mapping[str, str], *, include_base: bool = True,
                    progress: bool = True, model: Any = None, tokenizer: Any = None,
                    test: Mapping[str, Sequence[Example]] | None = None) -> dict[str, Any]:
    """CE (and generation metrics) for the base model and each named adapter on the test split."""
    import torch

    from finetune.modeling import load_adapter, load_model, load_tokenizer, resolve_device

    device = resolve_device(cfg.train.device)
    if test is None:
        if tokenizer is None:
            tokenizer = load_tokenizer(cfg.model)
        data_cfg = cfg.data
        bundle = build_bundle(data_cfg, splits=(cfg.eval.split,), counter=TokenCounter(tokenizer))
        test = bundle.test if cfg.eval.split == "test" else bundle.val
    test = {t: (list(ex)[: cfg.eval.limit] if cfg.eval.limit else list(ex)) for t, ex in test.items()}
    examples = [e for ex in test.values() for e in ex]
    gen_sample = sample_for_generation(test, cfg.eval.generate_limit, cfg.data.seed) if cfg.eval.generate_limit else {}
    if tokenizer is None:
        tokenizer = load_tokenizer(cfg.model)
    if model is None:
        model = load_model(cfg.model, cfg.quant, device, for_training=False,
                           device_index=0 if device == "cuda" else None)
    labels = ([BASE] if include_base else []) + list(adapters)
    results: dict[str, Any] = {"models": {}, "split": cfg.eval.split,
                               "examples": {t: len(ex) for t, ex in test.items()},
                               "generation_examples": {t: len(ex) for t, ex in gen_sample.items()}}
    peft_model = None
    for label in labels:
        if label == BASE:
            net = model
        else:
            if peft_model is None:  # base is evaluated first: wrapping injects LoRA layers in place
                peft_model = load_adapter(model, adapters[label], adapter_name=label)
            else:
                peft_model.load_adapter(adapters[label], adapter_name=label)
            peft_model.set_adapter(label)
            net = peft_model
        log.info("evaluating %s", label)
        entry = cross_entropy(net, tokenizer, examples, batch_size=cfg.eval.batch_size, max_length=cfg.data.max_length,
                              max_target_tokens=cfg.data.max_target_tokens, device=device, progress=progress)
        if gen_sample:
            entry["generation"] = {}
            t0 = time.perf_counter()
            for task, ex in gen_sample.items():
                preds = generate(net, tokenizer, ex, max_new_tokens=cfg.eval.max_new_tokens,
                                 max_length=cfg.data.max_length, device=device, batch_size=cfg.eval.batch_size)
                refs = [" ".join(e.target.split()) for e in ex]
                per_lang: dict[str, Any] = {}
                for lang in sorted({e.language for e in ex}):
                    pick = [i for i, e in enumerate(ex) if e.language == lang]
                    lr, lp = [refs[i] for i in pick], [preds[i] for i in pick]
                    per_lang[lang] = {"bleu_bnorm": corpus_bleu_bnorm(lr, lp), "rouge_l": mean_rouge_l(lr, lp),
                                      "examples": len(pick)}
                entry["generation"][task] = {
                    "bleu_bnorm": corpus_bleu_bnorm(refs, preds), "rouge_l": mean_rouge_l(refs, preds),
                    "examples": len(ex), "languages": per_lang,
                    "samples": [{"uid": e.uid, "reference": r, "prediction": p}
                                for e, r, p in list(zip(ex, refs, preds))[:8]]}
            entry["generation_seconds"] = time.perf_counter() - t0
        results["models"][label] = entry
        if device == "cuda":
            torch.cuda.empty_cache()
    return results


TASK_TITLES = {"functions": ("CodeSearchNet-style", "code summarization"),
               "commits": ("CommitPackFT-style", "commit explanation"),
               "changelog": ("changelog", "narration (changelog entry)")}


def markdown_table(results: Mapping[str, Any]) -> str:
    """The study's table: test CE / perplexity per dataset, then per language, then generation metrics."""
    models = results["models"]
    base = models.get(BASE)
    tasks = [t for t in TASK_TITLES if any(t in e.get("tasks", {}) for e in models.values())]
    lines = ["| model | " + " | ".join(f"{TASK_TITLES[t][0]} CE (ppl)" for t in tasks) + " |",
             "|---|" + "---|" * len(tasks)]
    for label, entry in models.items():
        cells = []
        for task in tasks:
            t = entry["tasks"].get(task)
            if not t:
                cells.append("-")
                continue
            delta = ""
            if base and label != BASE and task in base["tasks"]:
                delta = f", {100 * (t['ce'] - base['tasks'][task]['ce']) / base['tasks'][task]['ce']:+.1f}%"
            cells.append(f"{t['ce']:.3f} ({t['ppl']:.2f}{delta})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for task in tasks:
        langs = sorted({lang for e in models.values() for lang in e["languages"].get(task, {})})
        if not langs:
            continue
        lines += ["", f"CE per language, {TASK_TITLES[task][1]}:", "", "| model | " + " | ".join(langs) + " |",
                  "|---|" + "---|" * len(langs)]
        for label, entry in models.items():
            row = [f"{entry['languages'].get(task, {}).get(lang, {}).get('ce', float('nan')):.3f}" for lang in langs]
            lines.append(f"| {label} | " + " | ".join(row) + " |")
    if any("generation" in e for e in models.values()):
        lines += ["", "Generation (greedy), smoothed BLEU-4 B-Norm / ROUGE-L F1:", "",
                  "| model | " + " | ".join(TASK_TITLES[t][1] for t in tasks) + " |", "|---|" + "---|" * len(tasks)]
        for label, entry in models.items():
            g = entry.get("generation", {})
            cells = [f"{g[t]['bleu_bnorm']:.2f} / {g[t]['rouge_l']:.2f}" if t in g else "-" for t in tasks]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(results: Mapping[str, Any], out_prefix: str | Path) -> tuple[Path, Path]:
    prefix = Path(out_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    json_path = prefix.with_suffix(".json")
    md_path = prefix.with_suffix(".md")
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(json_path)
    md_path.write_text(markdown_table(results))
    return json_path, md_path
