"""Generation metrics: smoothed sentence BLEU-4 "B-Norm" (CodeXGLUE code-to-text) and ROUGE-L F1.

B-Norm is the variant used for code summarization since CodeXGLUE: both texts lower-cased, punctuation
split from words, BLEU-4 per sentence with add-one smoothing of the 2- to 4-gram precisions (Lin & Och,
2004) and the brevity penalty ``min(0, 1 - (r+1)/(c+1))``, averaged over sentences, times 100. The code
follows CodeXGLUE's ``bleu.py`` (itself from the NIST mteval normalisation).
"""

from __future__ import annotations

import math
import re
import sys
import xml.sax.saxutils
from collections import Counter
from typing import Sequence

_NORMALIZE1 = [("<skipped>", ""), (r"-\n", ""), (r"\n", " ")]
_NORMALIZE2 = [
    (r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 "),
    (r"([^0-9])([\.,])", r"\1 \2 "),
    (r"([\.,])([^0-9])", r" \1 \2"),
    (r"([0-9])(-)", r"\1 \2 "),
]


def split_puncts(line: str) -> str:
    return " ".join(re.findall(r"[\w]+|[^\s\w]", line))


def normalize(text: str) -> list[str]:
    """CodeXGLUE/mteval tokens: lower-cased, punctuation split off."""
    s = text
    for pattern, replace in _NORMALIZE1:
        s = re.sub(pattern, replace, s)
    s = xml.sax.saxutils.unescape(s, {"&quot;": '"'})
    s = f" {s} ".lower()
    for pattern, replace in _NORMALIZE2:
        s = re.sub(pattern, replace, s)
    return s.split()


def _ngrams(words: Sequence[str], n: int = 4) -> Counter:
    counts: Counter = Counter()
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i:i + k])] += 1
    return counts


def sentence_bleu(reference: str, hypothesis: str, n: int = 4) -> float:
    """Smoothed sentence BLEU-4 (B-Norm) in [0, 1] of one hypothesis against one reference."""
    ref = normalize(split_puncts(reference.strip()))
    hyp = normalize(split_puncts(hypothesis.strip()))
    ref_counts = _ngrams(ref, n)
    hyp_counts = _ngrams(hyp, n)
    guess = [max(len(hyp) - k + 1, 0) for k in range(1, n + 1)]
    correct = [0] * n
    for gram, count in hyp_counts.items():
        correct[len(gram) - 1] += min(ref_counts.get(gram, 0), count)
    logbleu = 0.0
    for k in range(n):
        add = 1 if k > 0 else 0
        logbleu += math.log(correct[k] + add + sys.float_info.min) - math.log(guess[k] + add + sys.float_info.min)
    logbleu /= float(n)
    brevity = min(0.0, 1 - float(len(ref) + 1) / (len(hyp) + 1))
    return math.exp(logbleu + brevity)


def corpus_bleu_bnorm(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Mean smoothed sentence BLEU-4 (B-Norm) over pairs, times 100 (the figure papers report)."""
    if not references:
        return 0.0
    return 100.0 * sum(sentence_bleu(r, h) for r, h in zip(references, hypotheses)) / len(references)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(reference: str, hypothesis: str) -> float:
    """ROUGE-L F1 on B-Norm tokens (lower-cased, punctuation split), in [0, 1]."""
    ref = normalize(split_puncts(reference))
    hyp = normalize(split_puncts(hypothesis))
    lcs = _lcs(ref, hyp)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(hyp), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def mean_rouge_l(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    if not references:
        return 0.0
    return 100.0 * sum(rouge_l(r, h) for r, h in zip(references, hypotheses)) / len(references)
