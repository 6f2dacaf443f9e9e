"""Stopping generation at the end of a narration's first sentence, for each sequence of a batch on its own.

A report keeps one sentence of every answer (``guard.clean_output`` cuts at the first paragraph break, then at
the first sentence end: ``.``, ``!`` or ``?``, white space, a capital letter; both patterns are the guard's,
``PARAGRAPH_BREAK`` and ``SENTENCE_BREAK``). Tokens generated after that point are thrown away, so a sequence
that has reached it is marked finished; a batch stops when all of its sequences are finished (by this rule, by
an end token, or by ``max_new_tokens``). The kept text is the same as without the stop. transformers is imported only when a criterion is built.
"""

from __future__ import annotations

from typing import Any

from narrator.engines.guard import PARAGRAPH_BREAK, SENTENCE_BREAK


def first_sentence_complete(text: str) -> bool:
    """True once ``text`` holds more than its first sentence (so ``clean_output`` would cut it)."""
    text = text.lstrip()  # then a paragraph break always follows some text, as in clean_output's stripped answer
    return bool(PARAGRAPH_BREAK.search(text) or SENTENCE_BREAK.search(text))


def first_sentence_stop(tokenizer: Any, prompt_length: int) -> Any:
    """A ``StoppingCriteria`` that marks each sequence done once its answer holds a complete first sentence.

    ``prompt_length`` is the padded prompt length of the batch (answers start there).
    """
    import torch
    from transformers import StoppingCriteria

    class FirstSentence(StoppingCriteria):
        def __init__(self) -> None:
            self.done: torch.Tensor | None = None

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            rows = input_ids.shape[0]
            if self.done is None or self.done.shape[0] != rows:
                self.done = torch.zeros(rows, dtype=torch.bool, device=input_ids.device)
            pending = [i for i in range(rows) if not bool(self.done[i])]
            if pending:
                texts = tokenizer.batch_decode(input_ids[pending, prompt_length:], skip_special_tokens=True)
                for row, text in zip(pending, texts):
                    if first_sentence_complete(text):
                        self.done[row] = True
            return self.done.clone()

    return FirstSentence()
