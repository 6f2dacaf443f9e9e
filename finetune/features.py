"""Examples -> token ids with completion-only labels, and padded batches.

The prompt is ``narrator.prompts.render_prompt(tokenizer, user_text)`` (chat template when the tokenizer
has one, plain layout otherwise) and the completion is ``clean_target(target)`` followed by the EOS token.
Labels are -100 on every prompt and padding token, so the loss is computed on the completion only.
Prompts too long for ``max_length`` lose tokens in the middle of the user text; the head (instruction,
file name) and the tail (end of the diff, the assistant header) are kept.

Packing (``pack_rows`` + ``collate_packed``) puts several examples into one row with no padding between
them; positions restart at every example and a block-diagonal causal mask keeps each example's attention
to itself, so every token sees exactly what it sees unpacked. ``completion_loss`` computes the LM head on
the completion positions only (a few percent of the tokens), which is where the loss is.
"""

from __future__ import annotations

import bisect
import os
import random
from dataclasses import dataclass
from typing import Any, Sequence

from finetune.data.schema import Example
from narrator.prompts import clean_target, render_prompt

IGNORE_INDEX = -100
_TAIL_TOKENS = 32  # prompt tokens always kept at the end (closing fence + assistant header)


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]
    prompt_length: int
    truncated: bool = False


def prompt_ids(tokenizer: Any, user_text: str, max_prompt_tokens: int) -> tuple[list[int], bool]:
    """Token ids of the rendered prompt, cut in the middle to ``max_prompt_tokens`` when needed.

    Special tokens are added only without a chat template (a template already holds the ones it wants;
    the plain layout gets the tokenizer's BOS): exactly what narrator's hf engine does at inference.
    """
    text = render_prompt(tokenizer, user_text)
    add_special = not getattr(tokenizer, "chat_template", None)
    ids = tokenizer(text, add_special_tokens=add_special)["input_ids"]
    if len(ids) <= max_prompt_tokens:
        return list(ids), False
    tail = min(_TAIL_TOKENS, max_prompt_tokens // 2)
    return list(ids[: max_prompt_tokens - tail]) + list(ids[-tail:]), True


def completion_ids(tokenizer: Any, target: str, max_target_tokens: int) -> list[int]:
    ids = tokenizer(clean_target(target), add_special_tokens=False)["input_ids"][: max_target_tokens - 1]
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no EOS token; set tokenizer.eos_token before training")
    return list(ids) + [eos]


def encode(tokenizer: Any, example: Example, max_length: int, max_target_tokens: int) -> Encoded:
    """One example as model input: prompt + completion, labels only on the completion."""
    completion = completion_ids(tokenizer, example.target, max_target_tokens)
    prompt, cut = prompt_ids(tokenizer, example.user_text, max_length - len(completion))
    return Encoded(input_ids=prompt + completion, labels=[IGNORE_INDEX] * len(prompt) + completion,
                   prompt_length=len(prompt), truncated=cut)


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors: input_ids, attention_mask, labels (-100 on padding)."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class EncodedDataset:
    """A list-backed dataset of encoded examples (encodes lazily, caches)."""

    def __init__(self, tokenizer: Any, examples: Sequence[Example], max_length: int, max_target_tokens: int):
        self.tokenizer = tokenizer
        self.examples = list(examples)
        self.max_length = max_length
        self.max_target_tokens = max_target_tokens
        self._cache: dict[int, Encoded] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> Encoded:
        if index not in self._cache:
            self._cache[index] = encode(self.tokenizer, self.examples[index], self.max_length,
                                        self.max_target_tokens)
        return self._cache[index]


def token_loss_sums(logits: Any, labels: Any) -> tuple[Any, Any]:
    """Per-example summed cross-entropy over completion tokens and the count of those tokens."""
    import torch.nn.functional as F

    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:]
    losses = F.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1),
                             ignore_index=IGNORE_INDEX, reduction="none").view(shift_labels.shape)
    mask = shift_labels != IGNORE_INDEX
    return (losses * mask).sum(dim=1), mask.sum(dim=1)


_POOL: tuple[Any, int, int] | None = None


def _encode_in_worker(example: Example) -> Encoded:
    tokenizer, max_length, max_target_tokens = _POOL  # type: ignore[misc]
    return encode(tokenizer, example, max_length, max_target_tokens)


def encode_all(tokenizer: Any, examples: Sequence[Example], max_length: int, max_target_tokens: int) -> list[Encoded]:
    """``encode`` for every example, in parallel processes for large sets (the chat template is slow)."""
    global _POOL
    workers = min(16, os.cpu_count() or 1)
    if len(examples) < 2000 or workers < 2:
        return [encode(tokenizer, e, max_length, max_target_tokens) for e in examples]
    import multiprocessing as mp

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _POOL = (tokenizer, max_length, max_target_tokens)
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            return pool.map(_encode_in_worker, examples, chunksize=128)
    finally:
        _POOL = None


def pack_rows(lengths: Sequence[int], pack_length: int, seed: int = 0) -> list[list[int]]:
    """Group example indices into rows of at most ``pack_length`` tokens (best-fit decreasing), rows shuffled.

    Every index appears exactly once; an example longer than ``pack_length`` is a ``ValueError``.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, row index), sorted
    for i in order:
        n = lengths[i]
        if n > pack_length:
            raise ValueError(f"example {i} has {n} tokens, more than pack_length {pack_length}")
        at = bisect.bisect_left(free, (n, -1))
        if at < len(free):
            room, row = free.pop(at)
            rows[row].append(i)
            room -= n
        else:
            rows.append([i])
            row, room = len(rows) - 1, pack_length - n
        if room > 0:
            bisect.insort(free, (room, row))
    random.Random(seed).shuffle(rows)
    return rows


def collate_packed(rows: Sequence[Sequence[Encoded]], pad_id: int) -> dict[str, Any]:
    """Packed tensors: input_ids, labels, position_ids (restarting per example) and doc_ids (which example
    of its row each token belongs to, -1 for padding; ``packed_attention_mask`` turns it into the mask)."""
    import torch

    width = max(sum(len(e.input_ids) for e in row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    docs = torch.full((len(rows), width), -1, dtype=torch.long)
    for r, row in enumerate(rows):
        at = 0
        for d, e in enumerate(row):
            n = len(e.input_ids)
            ids[r, at:at + n] = torch.tensor(e.input_ids)
            labels[r, at:at + n] = torch.tensor(e.labels)
            positions[r, at:at + n] = torch.arange(n)
            docs[r, at:at + n] = d
            at += n
    return {"input_ids": ids, "labels": labels, "position_ids": positions, "doc_ids": docs,
            "tokens": (docs >= 0).sum(), "examples": torch.tensor(sum(len(row) for row in rows))}


def packed_attention_mask(doc_ids: Any) -> Any:
    """The (rows, 1, L, L) boolean mask of packed rows: causal within an example, nothing across examples
    (built where ``doc_ids`` lives, so on the GPU in training); padding attends to itself only (no NaN)."""
    import torch

    width = doc_ids.shape[1]
    causal = torch.ones((width, width), dtype=torch.bool, device=doc_ids.device).tril()
    same = (doc_ids[:, :, None] == doc_ids[:, None, :]) & (doc_ids[:, :, None] >= 0)
    eye = torch.eye(width, dtype=torch.bool, device=doc_ids.device)
    return ((same & causal) | eye)[:, None]


def completion_loss(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """(sum of cross-entropy over completion tokens, their count), the LM head applied to those positions only.

    ``model`` is a causal LM (a peft model or a plain transformers one) whose decoder is ``.model`` and head
    ``.lm_head`` (Llama-style); other models fall back to full logits.
    """
    import torch
    import torch.nn.functional as F

    net = model.get_base_model() if hasattr(model, "get_base_model") else model
    labels = batch["labels"]
    kwargs = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids") if k in batch}
    if "doc_ids" in batch:
        kwargs["attention_mask"] = packed_attention_mask(batch["doc_ids"])
    mask = kwargs.get("attention_mask")
    if mask is not None and mask.dim() == 4 and mask.dtype == torch.bool and \
            getattr(net.config, "_attn_implementation", "sdpa") == "eager":
        dtype = next(net.parameters()).dtype  # eager attention adds the mask to the scores
        kwargs["attention_mask"] = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            ~mask, torch.finfo(dtype).min)
    decoder, head = getattr(net, "model", None), getattr(net, "lm_head", None)
    if decoder is None or head is None:  # pragma: no cover - not a Llama-style model
        logits = model(**kwargs).logits
        sums, counts = token_loss_sums(logits, labels)
        return sums.sum(), counts.sum()
    hidden = decoder(**kwargs).last_hidden_state
    target = labels[:, 1:]
    keep = target != IGNORE_INDEX
    logits = head(hidden[:, :-1][keep]).float()
    return F.cross_entropy(logits, target[keep], reduction="sum"), keep.sum()


def completion_loss_module(model: Any) -> Any:
    """An ``nn.Module`` around ``model`` whose forward returns ``completion_loss`` (so DDP sees one module)."""
    import torch

    class _Wrapper(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, **batch: Any) -> tuple[Any, Any]:
            return completion_loss(self.inner, batch)

    return _Wrapper(model)


def completion_loss_per_example(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """Per-row summed completion cross-entropy and token counts of a right-padded batch, the LM head on the
    completion positions only. No attention mask is passed: with right padding a causal model's real tokens
    never see the padding, so the result is exact and the fastest attention kernel is used."""
    import torch
    import torch.nn.functional as F

    net = model.get_base_model() if hasattr(model, "get_base_model") else model
    labels = batch["labels"]
    target = labels[:, 1:]
    keep = target != IGNORE_INDEX
    decoder, head = getattr(net, "model", None), getattr(net, "lm_head", None)
    if decoder is None or head is None:  # pragma: no cover - not a Llama-style model
        logits = model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask")).logits
        return token_loss_sums(logits, labels)
    hidden = decoder(input_ids=batch["input_ids"]).last_hidden_state
    losses = F.cross_entropy(head(hidden[:, :-1][keep]).float(), target[keep], reduction="none")
    rows = torch.arange(labels.shape[0], device=labels.device)[:, None].expand_as(target)[keep]
    sums = torch.zeros(labels.shape[0], dtype=losses.dtype, device=losses.device).index_add_(0, rows, losses)
    return sums, keep.sum(dim=1)
