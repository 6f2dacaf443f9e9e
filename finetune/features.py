"""Examples -> token ids with completion-only labels, and padded batches.

The prompt is ``narrator.prompts.render_prompt(tokenizer, user_text)`` (chat template when the tokenizer
has one, plain layout otherwise) and the completion is ``clean_target(target)`` followed by the EOS token.
Labels are -100 on every prompt and padding token, so the loss is computed on the completion only.
Prompts too long for ``max_length`` lose tokens in the middle of the user text; the head (instruction,
file name) and the tail (end of the diff, the assistant header) are kept.
"""

from __future__ import annotations

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
