"""The narration pipeline shared by engines that generate text (``hf`` locally, ``openai`` over HTTP).

For each commit: read its diff, redact secrets, build ONE narration prompt (the commit's message, or the
report's chosen ``description``, then as much of the code diff as the budget holds; changelog files left
out), generate in length-sorted batches, guard every result against the message and the diff, and fall back
to the heuristic sentence when the guard rejects it. Narrations are handed to ``on_batch`` as soon as their
commit is finished, so an interrupted run keeps its work.

An engine whose model becomes unreachable (``ModelUnavailableError``, e.g. an OpenAI-compatible server that
does not answer) does not stop the report: that commit and every later one get the heuristic sentence with
``fallback_reason`` set, and ``note`` holds one line saying so (the caller shows it once).

A subclass supplies ``_generate`` (one batch of user texts -> raw answers), ``_count_tokens``,
``batch_size`` and ``_identity`` (what goes into the fingerprint).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from narrator.engines.base import BatchCallback, DiffProvider, NarrationRequest, ProgressCallback
from narrator.engines.guard import GUARD_VERSION, Context, Verdict, check, clean_output, plain_text
from narrator.engines.heuristic import reported_speech
from narrator.engines.redact import is_secrets_file, redact, redact_files
from narrator.errors import EngineError
from narrator.git.facts import CommitFacts, Narration
from narrator.prompts import (
    CommitPrompt,
    FileDiff,
    PromptBudget,
    build_narration_prompt,
    format_function_text,
    format_headline_text,
    format_message,
    narration_budget,
)

log = logging.getLogger(__name__)



NO_CODE_REASONS = ("no readable text changes", "no files changed")  # fallbacks without any model output
MERGE_REASON = "merge commit"  # the model was never trained on merges: their work is narrated in its own commits
UNAVAILABLE_PREFIX = "model unavailable"


def fallback_kind(reason: str | None) -> str:
    """Why a model engine's commit got the rule-based sentence: ``rejected`` (the guard replaced the model's
    sentence), ``no_code`` (nothing of the code to read, so the model was not asked), ``merge`` (a merge commit,
    not asked either) or ``unavailable``."""
    reason = reason or ""
    if reason in NO_CODE_REASONS:
        return "no_code"
    if reason == MERGE_REASON:
        return "merge"
    if reason.startswith(UNAVAILABLE_PREFIX):
        return "unavailable"
    return "rejected"


class ModelUnavailableError(EngineError):
    """The model cannot be reached at all (server down, no answer after the retries): fall back, do not stop."""


def format_headline_facts(summary_facts: dict[str, Any], sentences: Sequence[str]) -> str:
    return format_headline_text(_flatten_facts(summary_facts), sentences)


def _flatten_facts(data: Any, prefix: str = "") -> list[str]:
    if isinstance(data, dict):
        out: list[str] = []
        for key, value in data.items():
            out += _flatten_facts(value, f"{prefix}{key}: " if not prefix else f"{prefix}{key} ")
        return out
    if isinstance(data, (list, tuple)):
        return [f"{prefix}{', '.join(str(v) for v in data)}"] if data else []
    return [f"{prefix}{data}"]


def heuristic_texts(requests: Sequence[NarrationRequest]) -> list[str]:
    """The heuristic engine's sentences for these requests (the fallback for rejected model output)."""
    if not requests:
        return []
    try:
        from narrator.engines.heuristic import HeuristicEngine

        return [n.text for n in HeuristicEngine({}).narrate(list(requests))]
    except ImportError:  # pragma: no cover - the heuristic engine ships with narrator
        return [r.classification.description or r.commit.subject for r in requests]


def commit_message(request: NarrationRequest) -> str:
    """The message the narration prompt shows: the report's chosen description, else subject + body."""
    if request.description.strip():
        return format_message(request.description, "")
    return format_message(request.commit.subject, request.commit.body)


def commit_context(commit: CommitFacts, files: Sequence[FileDiff], extra: Sequence[str] = ()) -> Context:
    """Everything a narration of ``commit`` may name: message, paths, diff text, counts; and what the diff
    adds and removes (for the guard's check of verbs of change)."""
    texts = [commit.subject, commit.body]
    for f in commit.files:
        texts += [f.path, f.old_path or "", f.language or ""]
    texts += [f.diff for f in files]
    texts += [str(len(commit.files)), str(commit.lines_added), str(commit.lines_deleted), str(commit.churn)]
    texts += list(extra)
    return Context(texts, message="\n".join([commit.subject, commit.body, *extra]), files=files)


@dataclass
class _Plan:
    """One commit's way through the pipeline."""

    index: int
    request: NarrationRequest
    prompt: CommitPrompt
    context: Context
    omitted: tuple[str, ...]
    text: str | None = None
    rejected: list[str] = field(default_factory=list)
    result: Narration | None = None
    fallback: str | None = None


@dataclass
class _Job:
    plan: _Plan
    text: str
    length: int = 0


class GeneratingEngine:
    """Base class for engines whose narrations come from a language model."""

    name = "generating"
    batch_size = 8
    _unavailable: str | None = None  # why the model cannot be reached (set once, then every call falls back)
    note: str | None = None  # one line for the reader when the run fell back for the rest (shown once)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        raw = cls.__dict__.get("_generate")
        if raw is not None and not getattr(raw, "_guarded", False):
            cls._generate = _fallback_when_unavailable(raw)  # type: ignore[method-assign]

    # -- for subclasses ----------------------------------------------------------------------------
    def _generate(self, texts: list[str]) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _count_tokens(self, text: str) -> int:
        return max(1, len(text) // 3)

    def _budget(self) -> PromptBudget:
        return PromptBudget(count_tokens=self._count_tokens)

    def _narration_budget(self) -> PromptBudget:
        """The narration prompt's budget (``narrator.prompts.NARRATION_PROMPT_TOKENS``, less when the model's
        room is smaller), counted with this engine's tokens."""
        return narration_budget(self._count_tokens, self._budget().max_prompt_tokens)

    def _identity(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _label(self) -> str:
        return self.name

    # -- the Engine protocol ---------------------------------------------------------------------------
    def fingerprint(self) -> str:
        cached = getattr(self, "_fingerprint", None)
        if cached is None:  # computed once: it may hash adapter weights
            identity = {**self._identity(), "guard": GUARD_VERSION, "pipeline": "3"}
            digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
            cached = self._fingerprint = f"{self.name}:{self._label()}:{digest}"
        return cached

    def narrate(
        self,
        requests: Sequence[NarrationRequest],
        diffs: DiffProvider | None = None,
        on_progress: ProgressCallback | None = None,
        on_batch: BatchCallback | None = None,
    ) -> list[Narration]:
        """One narration per request, in order; finished commits go to ``on_batch`` batch by batch."""
        out: list[Narration] = []
        wave = max(4 * max(1, self.batch_size), 16)
        for start in range(0, len(requests), wave):
            out += self._narrate_wave(list(requests[start:start + wave]), diffs, on_progress, on_batch)
        return out

    # -- the pipeline ----------------------------------------------------------------------------------
    def _plan(self, index: int, request: NarrationRequest, diffs: DiffProvider | None, budget: PromptBudget) -> _Plan:
        commit = request.commit
        if diffs is not None:
            files = diffs.file_diffs(commit)
        else:
            files = [FileDiff.of(f) for f in commit.files]
        files = redact_files(files)
        prompt = build_narration_prompt(commit_message(request), files, budget)
        extra = (request.description, request.classification.description, *request.classification.areas)
        context = commit_context(commit, files, extra)
        plan = _Plan(index, request, prompt, context, prompt.omitted)
        if commit.is_merge:
            # A merge's diff is all the work it brings in, its message a branch name or a pull request title: the
            # model (trained on single commits) invents from such input ("Merge branch 'stable'" became a claim about
            # a session flag); the rule-based sentence says what was merged, the work is narrated in its commits.
            plan.fallback = MERGE_REASON
        elif not prompt.included:  # nothing of the code to read: the model was never trained on that
            plan.fallback = NO_CODE_REASONS[0] if commit.files else NO_CODE_REASONS[1]
        return plan

    def _narrate_wave(self, requests: list[NarrationRequest], diffs: DiffProvider | None,
                      on_progress: ProgressCallback | None, on_batch: BatchCallback | None) -> list[Narration]:
        budget = self._narration_budget()
        plans = [self._plan(i, r, diffs, budget) for i, r in enumerate(requests)]
        finished: list[_Plan] = []

        def settle(done: list[_Plan]) -> None:
            if not done:
                return
            self._finish(done)
            finished.extend(done)
            if on_batch is not None:
                on_batch([p.result for p in done if p.result is not None])
            if on_progress is not None:
                on_progress(len(done))

        settle([p for p in plans if p.fallback])
        jobs = [_Job(p, redact(p.prompt.text)) for p in plans if not p.fallback]

        def after(batch: list[_Job], outputs: list[str]) -> None:
            for job, raw in zip(batch, outputs):
                plan = job.plan
                if self._unavailable is not None and not raw:
                    plan.rejected.append(f"{UNAVAILABLE_PREFIX}: {self._unavailable}")
                    continue
                text = clean_output(raw)
                verdict = check(text, plan.context, job.text)
                if verdict.ok:
                    plan.text = reported_speech(plain_text(text))
                else:
                    plan.rejected.append(verdict.reason or "rejected")
                    log.debug("guard rejected %s: %s: %r", plan.request.commit.short_sha, verdict.reason, text)
            settle([job.plan for job in batch])

        self._run_batches(jobs, after)
        by_index = {p.index: p.result for p in finished}
        return [by_index[i] for i in range(len(plans))]  # type: ignore[misc]

    def _run_batches(self, jobs: list[_Job], after: Callable[[list[_Job], list[str]], None]) -> None:
        for job in jobs:
            job.length = self._count_tokens(job.text)
        jobs = sorted(jobs, key=lambda j: -j.length)  # longest first: memory trouble shows up at once
        start = 0
        while start < len(jobs):
            size = max(1, self.batch_size)
            batch = jobs[start:start + size]
            outputs = self._generate([j.text for j in batch])
            if len(outputs) != len(batch):  # pragma: no cover - a broken subclass
                raise RuntimeError(f"{self.name} returned {len(outputs)} answers for {len(batch)} prompts")
            after(batch, outputs)
            start += len(batch)

    def _finish(self, plans: list[_Plan]) -> None:
        need_fallback = [p for p in plans if p.fallback or not p.text]
        fallback_texts = heuristic_texts([p.request for p in need_fallback])
        for plan, text in zip(need_fallback, fallback_texts):
            reason = plan.fallback or "; ".join(dict.fromkeys(plan.rejected)) or "model output rejected"
            plan.result = Narration(sha=plan.request.commit.sha, text=text, engine=self.fingerprint_label(),
                                    source="heuristic", fallback_reason=reason, omitted=plan.omitted)
        for plan in plans:
            if plan.result is None:
                plan.result = Narration(sha=plan.request.commit.sha, text=plan.text or "",
                                        engine=self.fingerprint_label(), source="model", omitted=plan.omitted)

    def fingerprint_label(self) -> str:
        return self.name

    # -- other skills ----------------------------------------------------------------------------------
    def write_headline(self, summary_facts: dict[str, Any], sentences: list[str]) -> str | None:
        """A one-sentence headline from the narrations; None (keep the computed one) unless it passes the guard."""
        if not sentences:
            return None
        text = redact(format_headline_facts(summary_facts, sentences))
        raw = self._generate([text])[0]
        headline = clean_output(raw, max_sentences=1)
        verdict = check(headline, Context([*_flatten_facts(summary_facts), *sentences]), min_grounded=2)
        if not verdict.ok:
            log.info("model headline rejected (%s); keeping the computed one", verdict.reason)
            headline = ""
        return plain_text(headline) or None

    def explain_code(self, code: str, language: str, name: str | None = None, path: str = "") -> tuple[str | None, Verdict]:
        """A one-sentence summary of a piece of code, or None with the guard's reason."""
        if path and is_secrets_file(path):
            return None, Verdict(False, "secrets file: not sent to any engine")
        budget = self._budget()
        safe = redact(code)
        limit = budget.max_prompt_tokens - 64
        if self._count_tokens(safe) > limit:
            lines = safe.splitlines()
            keep = len(lines)
            while keep > 1 and self._count_tokens("\n".join(lines[:keep])) > limit:
                keep = max(1, int(keep * 0.8))
            safe = "\n".join(lines[:keep])
        text = format_function_text(safe, language, name)
        raw = self._generate([text])[0]
        summary = clean_output(raw)
        verdict = check(summary, Context([code, name or "", path, language]), text)
        return (plain_text(summary) if verdict.ok else None), verdict


def _fallback_when_unavailable(generate: Callable[..., list[str]]) -> Callable[..., list[str]]:
    """Wrap a subclass's ``_generate``: once the model is unreachable, answer "" (the pipeline then falls back
    with the reason, a headline keeps the computed one) instead of failing the whole report, and say so once."""

    def guarded(self: GeneratingEngine, texts: list[str], *args: Any, **kwargs: Any) -> list[str]:
        if self._unavailable is not None:
            return [""] * len(texts)
        try:
            return generate(self, texts, *args, **kwargs)
        except ModelUnavailableError as exc:
            self._unavailable = str(exc)
            self.note = (f"The {self.name} model could not be reached ({exc}); the rest of this run uses the "
                         "heuristic sentences.")
            log.warning("%s", self.note)
            return [""] * len(texts)

    guarded._guarded = True  # type: ignore[attr-defined]
    guarded.__doc__ = generate.__doc__
    guarded.__name__ = getattr(generate, "__name__", "_generate")
    return guarded
