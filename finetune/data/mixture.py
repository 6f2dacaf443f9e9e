"""Compact per-language subsets and the cocktail mixture of the two tasks, deterministic for a seed.

``load_task`` reads one task's split (local files or hub), re-applies the study's filters, deduplicates
and caps each language (default 2,100 train / 300 val / 600 test). ``mix`` draws the training mixture
with the configured shares (50/50, 40/60, 70/30, or one task alone) and shuffles it with the seed.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from finetune.config import DataConfig, normalise_mixture
from finetune.data.filters import commit_rejection, deduplicate, function_rejection
from finetune.data.loaders import data_file, file_sha256, load_hub, load_local
from finetune.data.schema import CommitRecord, Example, FunctionRecord
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


def filter_records(records: Sequence[CommitRecord | FunctionRecord]) -> tuple[list, Counter]:
    """Records kept by the study's filters (then deduplicated), and a count of drop reasons."""
    kept, dropped = [], Counter()
    for record in records:
        reason = commit_rejection(record) if isinstance(record, CommitRecord) else function_rejection(record)
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


def load_task(cfg: DataConfig, task: str, split: str) -> TaskData:
    """One task's examples for ``split``: loaded, filtered, deduplicated and capped per language."""
    if cfg.source == "hub":
        records = load_hub(task, split, cfg.languages)
        source, digest = f"hub:{task}", ""
    else:
        path = data_file(cfg.root, task, split)
        records = load_local(cfg.root, task, split)
        source, digest = str(path), file_sha256(path)
    dropped: Counter = Counter()
    if cfg.apply_filters:
        records, dropped = filter_records(records)
    examples = compact_subset([r.to_example() for r in records], _cap(split, cfg), cfg.seed, cfg.languages)
    if not examples:
        why = f" (filters dropped {sum(dropped.values())}: {dict(dropped)})" if dropped else ""
        raise DataError(f"the {split} split of {task} is empty after filtering{why}; source: {source}; "
                        f"languages: {', '.join(cfg.languages)}")
    log.info("%s %s: %d examples from %s (dropped %s)", task, split, len(examples), source, dict(dropped))
    return TaskData(task=task, split=split, examples=examples, source=source, sha256=digest, dropped=dropped)


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


def build_bundle(cfg: DataConfig, splits: Sequence[str] = ("train", "val", "test")) -> DataBundle:
    """Load the tasks the mixture needs (train/val) and both tasks for test, then mix the training data."""
    shares = normalise_mixture(cfg.mixture)
    train_parts: dict[str, list[Example]] = {}
    val: dict[str, list[Example]] = {}
    test: dict[str, list[Example]] = {}
    sources: dict[str, dict[str, str]] = {}
    for split in splits:
        tasks = list(shares) if split in ("train", "val") else ["functions", "commits"]
        for task in tasks:
            data = load_task(cfg, task, split)
            sources[f"{task}/{split}"] = {"source": data.source, "sha256": data.sha256,
                                          "examples": str(len(data.examples))}
            {"train": train_parts, "val": val, "test": test}[split][task] = data.examples
    train = mix(train_parts, shares, cfg.total_examples, cfg.seed) if "train" in splits else []
    return DataBundle(train=train, val=val, test=test, sources=sources)
