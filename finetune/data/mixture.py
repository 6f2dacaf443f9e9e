"""Compact per-language subsets and the cocktail mixture of the tasks, deterministic for a seed.

``load_task`` reads one task's split (local files or hub), re-applies the filters, deduplicates and caps
each language (default 2,100 train / 300 val / 600 test; 0: no cap) and builds the examples (narration
prompts are budgeted with the model's tokenizer when one is given, exactly as the ``hf`` engine does, and
can be cached on disk). ``mix`` draws the training mixture with the configured shares (50/50, 40/60,
70/30, a three-task cocktail, or one task alone) and shuffles it with the seed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from finetune.config import DataConfig, normalise_mixture
from finetune.data.filters import changelog_rejection, commit_rejection, deduplicate, function_rejection
from finetune.data.loaders import HUB_DATASETS, data_file, file_sha256, has_task, load_hub, load_local
from finetune.data.schema import ChangelogRecord, CommitRecord, Example, FunctionRecord, Record
from finetune.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class TaskData:
    """One task's examples for one split, plus where they came from and what the filters dropped."""

    task: str
    split: str
    examples: list[Example]
    source: str = ""
    sha256: str = ""
    dropped: Counter = field(default_factory=Counter)

    def per_language(self) -> dict[str, int]:
        return dict(Counter(e.language for e in self.examples))


def _cap(split: str, cfg: DataConfig) -> int:
    return {"train": cfg.train_per_language, "val": cfg.val_per_language, "test": cfg.test_per_language}[split]


def _rejection(record: Record) -> str | None:
    if isinstance(record, CommitRecord):
        return commit_rejection(record)
    if isinstance(record, ChangelogRecord):
        return changelog_rejection(record)
    return function_rejection(record)


def filter_records(records: Sequence[Record]) -> tuple[list, Counter]:
    """Records kept by the filters (then deduplicated), and a count of drop reasons."""
    kept, dropped = [], Counter()
    for record in records:
        reason = _rejection(record)
        if reason:
            dropped[reason] += 1
        else:
            kept.append(record)
    unique = list(deduplicate(kept))
    if len(unique) < len(kept):
        dropped["duplicate"] += len(kept) - len(unique)
    return unique, dropped


def compact_subset(examples: Sequence[Example], per_language: int, seed: int, languages: Sequence[str]) -> list[Example]:
    """At most ``per_language`` examples of each language, a seeded sample, grouped by language order."""
    by_lang: dict[str, list[Example]] = defaultdict(list)
    for e in examples:
        if e.language in languages:
            by_lang[e.language].append(e)
    out: list[Example] = []
    for language in languages:
        items = by_lang.get(language, [])
        if per_language and len(items) > per_language:
            rng = random.Random(f"{seed}:{language}")
            items = rng.sample(items, per_language)
        out.extend(items)
    return out


class TokenCounter:
    """Counts tokens with a model's tokenizer (what the ``hf`` engine budgets prompts with); ``name`` keys caches."""

    def __init__(self, tokenizer: Any, name: str = "") -> None:
        self.tokenizer = tokenizer
        self.name = name or f"{getattr(tokenizer, 'name_or_path', 'tokenizer')}:{len(tokenizer)}"

    def __call__(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


_POOL_COUNTER: TokenCounter | None = None


def _example_in_worker(record: Record) -> Example:
    return record.to_example(_POOL_COUNTER)


def build_examples(records: Sequence[Record], counter: TokenCounter | None = None) -> list[Example]:
    """``record.to_example`` for every record; changelog prompts counted with ``counter``, in parallel
    processes when there are many (each narration prompt needs a few tokenizer calls)."""
    global _POOL_COUNTER
    slow = counter is not None and sum(isinstance(r, ChangelogRecord) for r in records) > 400
    workers = min(16, os.cpu_count() or 1)
    if not slow or workers < 2:
        return [r.to_example(counter) for r in records]
    import multiprocessing as mp

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _POOL_COUNTER = counter
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            return pool.map(_example_in_worker, records, chunksize=64)
    finally:
        _POOL_COUNTER = None


def _cache_path(cfg: DataConfig, task: str, split: str, digest: str, counter: TokenCounter | None) -> Path | None:
    if not cfg.example_cache or not digest:
        return None
    from narrator.prompts import PROMPT_VERSION

    key = json.dumps([task, split, digest, counter.name if counter else "chars", PROMPT_VERSION, cfg.apply_filters,
                      _cap(split, cfg), cfg.seed, list(cfg.languages)])
    return Path(cfg.example_cache) / f"{task}-{split}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsonl.gz"


def load_task(cfg: DataConfig, task: str, split: str, counter: TokenCounter | None = None) -> TaskData:
    """One task's examples for ``split``: loaded, filtered, deduplicated, capped per language, built."""
    if cfg.source == "hub":
        records = load_hub(task, split, cfg.languages)
        source, digest = f"hub:{task}", ""
    else:
        path = data_file(cfg.root, task, split)
        source, digest = str(path), file_sha256(path)
        cached = _cache_path(cfg, task, split, digest, counter)
        if cached is not None and cached.is_file():
            with gzip.open(cached, "rt", encoding="utf-8") as handle:
                payload = [json.loads(line) for line in handle]
            meta, rows = payload[0], payload[1:]
            examples = [Example(**row) for row in rows]
            log.info("%s %s: %d examples from the cache %s", task, split, len(examples), cached)
            return TaskData(task=task, split=split, examples=examples, source=source, sha256=digest,
                            dropped=Counter(meta.get("dropped", {})))
        records = load_local(cfg.root, task, split)
    dropped: Counter = Counter()
    if cfg.apply_filters:
        records, dropped = filter_records(records)
    kept = [r for r in compact_subset_records(records, _cap(split, cfg), cfg.seed, cfg.languages)]
    examples = build_examples(kept, counter)
    if not examples:
        why = f" (filters dropped {sum(dropped.values())}: {dict(dropped)})" if dropped else ""
        raise DataError(f"the {split} split of {task} is empty after filtering{why}; source: {source}; "
                        f"languages: {', '.join(cfg.languages)}")
    log.info("%s %s: %d examples from %s (dropped %s)", task, split, len(examples), source, dict(dropped))
    if cfg.source != "hub":
        cached = _cache_path(cfg, task, split, digest, counter)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
            with gzip.open(tmp, "wt", encoding="utf-8") as handle:
                handle.write(json.dumps({"dropped": dict(dropped)}) + "\n")
                for e in examples:
                    handle.write(json.dumps(e.to_dict()) + "\n")
            tmp.replace(cached)
    return TaskData(task=task, split=split, examples=examples, source=source, sha256=digest, dropped=dropped)


def _language_of(record: Record) -> str:
    return record.language if isinstance(record, FunctionRecord) else record.lang


def compact_subset_records(records: Sequence[Record], per_language: int, seed: int,
                           languages: Sequence[str]) -> list[Record]:
    """``compact_subset`` on records (before the examples are built, so only kept records are built)."""
    by_lang: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if _language_of(r) in languages:
            by_lang[_language_of(r)].append(r)
    out: list[Record] = []
    for language in languages:
        items = by_lang.get(language, [])
        if per_language and len(items) > per_language:
            items = random.Random(f"{seed}:{language}").sample(items, per_language)
        out.extend(items)
    return out


def mix(parts: Mapping[str, Sequence[Example]], mixture: Mapping[str, float], total: int, seed: int) -> list[Example]:
    """The training mixture: ``round(total * share)`` examples of each task, shuffled with ``seed``.

    ``total`` 0 means as many as the scarcest task allows without repeating an example. A task asked for
    more examples than it has is an error (say a smaller total or another share).
    """
    shares = normalise_mixture(mixture)
    for task in shares:
        if not parts.get(task):
            raise DataError(f"the mixture asks for {task} ({shares[task]:.0%}) but its training split is empty")
    if total <= 0:
        total = int(min(len(parts[t]) / s for t, s in shares.items()))
    counts = {t: int(round(total * s)) for t, s in shares.items()}
    # rounding must not change the total: give the remainder to the largest share
    counts[max(shares, key=shares.get)] += total - sum(counts.values())
    out: list[Example] = []
    for task, n in counts.items():
        pool = list(parts[task])
        if n > len(pool):
            raise DataError(f"the mixture asks for {n} {task} examples ({shares[task]:.0%} of {total}) but only "
                            f"{len(pool)} are left after filtering; lower data.total_examples")
        rng = random.Random(f"{seed}:mix:{task}")
        out.extend(rng.sample(pool, n) if n < len(pool) else pool)
    random.Random(f"{seed}:shuffle").shuffle(out)
    return out


@dataclass
class DataBundle:
    """Everything a run reads: the training mixture, validation and test examples per task, provenance."""

    train: list[Example]
    val: dict[str, list[Example]]
    test: dict[str, list[Example]]
    sources: dict[str, dict[str, str]]

    def hashes(self) -> dict[str, str]:
        """Content hashes of the data used (files and the exact training order)."""
        order = hashlib.sha256("\n".join(e.uid for e in self.train).encode()).hexdigest()
        out = {"train_mixture_order": order}
        for key, info in self.sources.items():
            if info.get("sha256"):
                out[key] = info["sha256"]
        return out


def build_bundle(cfg: DataConfig, splits: Sequence[str] = ("train", "val", "test"),
                 counter: TokenCounter | None = None) -> DataBundle:
    """Load the tasks the mixture needs (train/val) and the evaluated tasks for test, then mix the training
    data. A test task without data under ``data.root`` is skipped (with a log line) unless the mixture trains
    on it."""
    shares = normalise_mixture(cfg.mixture)
    train_parts: dict[str, list[Example]] = {}
    val: dict[str, list[Example]] = {}
    test: dict[str, list[Example]] = {}
    sources: dict[str, dict[str, str]] = {}
    for split in splits:
        if split in ("train", "val"):
            tasks = list(shares)
        else:
            tasks = [t for t in cfg.eval_tasks if t in shares or (t in HUB_DATASETS if cfg.source == "hub"
                                                                  else has_task(cfg.root, t, split))]
            for t in cfg.eval_tasks:
                if t not in tasks:
                    log.info("no %s %s data under %s: not evaluated", t, split, cfg.root)
        for task in tasks:
            data = load_task(cfg, task, split, counter)
            sources[f"{task}/{split}"] = {"source": data.source, "sha256": data.sha256,
                                          "examples": str(len(data.examples))}
            {"train": train_parts, "val": val, "test": test}[split][task] = data.examples
    train = mix(train_parts, shares, cfg.total_examples, cfg.seed) if "train" in splits else []
    return DataBundle(train=train, val=val, test=test, sources=sources)
