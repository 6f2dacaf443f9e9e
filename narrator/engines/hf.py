"""The ``hf`` engine: narration by a local causal LM (transformers + optional peft LoRA adapter).

Default model: DeepSeek-Coder-1.3B-instruct with the cocktail adapter, NF4 on CUDA or fp32/bf16 on a CPU;
any Hugging Face id, local directory or GGUF file works (see ``hf_loading``). Generation is greedy, in
length-sorted batches with left padding; on CUDA out-of-memory the batch is halved until it fits, and a
prompt that does not fit alone is a clear error. Importing this module imports neither torch nor
transformers: the model is loaded on first use.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Any

from narrator.config import DEFAULTS
from narrator.engines.base import EngineStatus
from narrator.engines.generation import GeneratingEngine
from narrator.engines.hf_choice import ModelChoice, choose_model
from narrator.engines.hf_stop import first_sentence_stop
from narrator.errors import EngineError
from narrator.prompts import PromptBudget, render_prompt

log = logging.getLogger(__name__)

HF_DEFAULTS: dict[str, Any] = {
    key[len("engines.hf."):]: value for key, value in DEFAULTS.items() if key.startswith("engines.hf.")
}
GREEDY = {"do_sample": False, "num_beams": 1, "repetition_penalty": 1.0}


class HFEngine(GeneratingEngine):
    """Narrations from a local transformers model (weights loaded lazily, once per engine)."""

    name = "hf"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        merged = {**HF_DEFAULTS, **{k: v for k, v in (settings or {}).items() if v is not None}}
        self.settings = merged
        self._configured = (str(merged.get("model") or ""), str(merged.get("gguf_file") or "") or None,
                            str(merged.get("adapter") or ""))
        self._sources: dict[str, str] = dict(merged.get("_sources") or {})
        self._choice: ModelChoice | None = None
        self.quantize = str(merged.get("quantize") or "auto")
        self.device = str(merged.get("device") or "auto")
        self.dtype = str(merged.get("dtype") or "auto")
        self.threads = int(merged.get("threads") or 0)
        self.batch_size = max(1, int(merged.get("batch_size") or 8))
        self.max_new_tokens = max(1, int(merged.get("max_new_tokens") or 48))
        self.max_prompt_tokens = max(128, int(merged.get("max_prompt_tokens") or 1024))
        self.headline_enabled = bool(merged.get("headline", True))
        self._model: Any = None
        self._tokenizer: Any = None
        self.info: Any = None
        self._resolved: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._overhead: int | None = None
        self.generated_tokens = 0  # counted for benchmarks
        self.batches: list[dict[str, Any]] = []  # per generate call: rows, lengths, tokens, seconds (benchmarks)
        self.stop_at_sentence = True  # end each answer at its first sentence (narrator.engines.hf_stop)
        self.merge_adapter = True  # fold the LoRA weights into the base at load (no adapter cost per token)

    # -- which model ---------------------------------------------------------------------------------
    @property
    def choice(self) -> ModelChoice:
        """The model and adapter this engine loads (``narrator.engines.hf_choice``: configured, else the production
        default when cached, else the installed stand-in); an ``EngineError`` when there is none."""
        if self._choice is None:
            model, gguf_file, adapter = self._configured
            self._choice = choose_model(model, gguf_file, adapter, self._sources)
            log.info("hf engine: %s; %s", *self._choice.lines())
        return self._choice

    @property
    def model_id(self) -> str:
        return self.choice.model

    @property
    def gguf_file(self) -> str | None:
        return self.choice.gguf_file

    @property
    def adapter(self) -> str | None:
        return self.choice.adapter

    @property
    def model_label(self) -> str:
        """The model a report names: base model plus adapter (``SmolLM2-135M-Instruct.Q4_1 + smollm2-cocktail
        adapter``)."""
        return self.choice.display

    # -- status and identity -----------------------------------------------------------------------
    @staticmethod
    def status(settings: dict[str, Any]) -> EngineStatus:
        merged = {**HF_DEFAULTS, **(settings or {})}
        missing = [m for m in ("torch", "transformers", "peft") if importlib.util.find_spec(m) is None]
        if missing:
            return EngineStatus("hf", False, f"not installed ({', '.join(missing)} missing): pip install 'narrator[model]'")
        from narrator.engines import hf_loading

        try:
            choice = choose_model(str(merged.get("model") or ""), str(merged.get("gguf_file") or "") or None,
                                  str(merged.get("adapter") or ""), merged.get("_sources") or {})
            where = hf_loading.describe_base(choice.model, choice.gguf_file)
        except EngineError as exc:
            return EngineStatus("hf", True, f"no model: {exc}")
        lines = [*choice.lines(), f"weights: {where}"]
        try:
            device = hf_loading.resolve_device(str(merged.get("device") or "auto"))
            quant = hf_loading.resolve_quantize(str(merged.get("quantize") or "auto"), device)
            dtype = hf_loading.resolve_dtype(str(merged.get("dtype") or "auto"), device)
        except EngineError as exc:
            return EngineStatus("hf", True, f"{choice.display}; settings problem: {exc}", tuple(lines))
        lines.append(f"device: {device}, {'nf4' if quant == 'nf4' else dtype}")
        return EngineStatus("hf", True, f"{choice.display} ({choice.reason})", tuple(lines))

    def _resolve_settings(self) -> dict[str, str]:
        if self._resolved is None:
            from narrator.engines import hf_loading

            device = hf_loading.resolve_device(self.device)
            quantize = hf_loading.resolve_quantize(self.quantize, device)
            dtype = hf_loading.resolve_dtype(self.dtype, device)
            self._resolved = {"device": device, "quantize": quantize, "dtype": dtype}
        return self._resolved

    def _identity(self) -> dict[str, Any]:
        from narrator.engines import hf_loading

        resolved = self._resolve_settings()
        return {
            "model": self.model_id,
            "weights": hf_loading.weights_identity(self.model_id, self.gguf_file),
            "adapter": hf_loading.adapter_identity(self.adapter),
            "quantize": resolved["quantize"],
            "dtype": resolved["dtype"],
            "device": resolved["device"].split(":")[0],
            "max_new_tokens": self.max_new_tokens,
            "max_prompt_tokens": self.max_prompt_tokens,
            "greedy": GREEDY,
            "stop": "any special token" + (", first sentence" if self.stop_at_sentence else ""),
        }

    def _label(self) -> str:
        choice = self.choice
        return choice.label + (f"+{choice.adapter_label}" if choice.adapter_label else "")

    # -- model -------------------------------------------------------------------------------------
    def load(self) -> None:
        """Load weights now (otherwise done on first use)."""
        with self._lock:
            if self._model is not None:
                return
            from narrator.engines import hf_loading

            resolved = self._resolve_settings()
            self._model, self._tokenizer, self.info = hf_loading.load_model_and_tokenizer(
                self.model_id, self.gguf_file, self.adapter, resolved["quantize"], resolved["device"],
                resolved["dtype"], self.threads, merge_adapter=self.merge_adapter,
            )

    @property
    def tokenizer(self) -> Any:
        self.load()
        return self._tokenizer

    def _count_tokens(self, text: str) -> int:
        if len(text) > 12 * self.max_prompt_tokens:  # surely over any budget: skip tokenizing megabytes
            return len(text) // 2
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _budget(self) -> PromptBudget:
        if self._overhead is None:
            self._overhead = self._count_tokens(render_prompt(self.tokenizer, ""))
        room = max(96, self.max_prompt_tokens - self._overhead)
        return PromptBudget(max_prompt_tokens=room, max_file_tokens=min(700, int(room * 0.7)),
                            count_tokens=self._count_tokens)

    def _generate(self, texts: list[str]) -> list[str]:
        """Greedy answers for a batch of user texts; halves the batch on CUDA out-of-memory."""
        self.load()
        prompts = [render_prompt(self._tokenizer, t) for t in texts]
        return self._generate_rendered(prompts)

    def _generate_rendered(self, prompts: list[str]) -> list[str]:
        import torch

        out: list[str] = []
        start, size = 0, len(prompts)
        while start < len(prompts):
            chunk = prompts[start:start + size]
            try:
                out += self._generate_once(chunk)
                start += len(chunk)
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                if len(chunk) == 1:
                    raise EngineError(
                        "the GPU ran out of memory even for a single prompt; lower engines.hf.max_prompt_tokens, "
                        "use engines.hf.quantize = \"nf4\", or run on the CPU (engines.hf.device = \"cpu\")"
                    ) from None
                size = (len(chunk) + 1) // 2
                self.batch_size = max(1, min(self.batch_size, size))  # later batches start smaller
                log.warning("GPU out of memory at batch %d; continuing with batch %d", len(chunk), size)
        return out

    def _generate_once(self, prompts: list[str]) -> list[str]:
        import time

        import torch
        from transformers import StoppingCriteriaList

        tok = self._tokenizer
        # The chat template already holds the special tokens; the plain layout needs the tokenizer's BOS.
        add_special = not getattr(tok, "chat_template", None)
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=add_special)
        device = next(self._model.parameters()).device
        enc = {k: v.to(device) for k, v in enc.items()}
        prompt_length = enc["input_ids"].shape[1]
        stop = StoppingCriteriaList([first_sentence_stop(tok, prompt_length)] if self.stop_at_sentence else [])
        started = time.perf_counter()
        with torch.inference_mode():
            out = self._model.generate(
                **enc, max_new_tokens=self.max_new_tokens, pad_token_id=tok.pad_token_id,
                eos_token_id=self._eos_ids(), stopping_criteria=stop, **GREEDY, temperature=None, top_p=None,
                top_k=None,
            )
        new = out[:, prompt_length:]
        generated = int((new != tok.pad_token_id).sum())
        self.generated_tokens += generated
        self.batches.append({"rows": len(prompts), "prompt_length": prompt_length,
                             "prompt_tokens": int(enc["attention_mask"].sum()), "new_tokens": generated,
                             "steps": int(new.shape[1]), "seconds": round(time.perf_counter() - started, 3)})
        return tok.batch_decode(new, skip_special_tokens=True)

    def _eos_ids(self) -> list[int]:
        ids = []
        config_eos = getattr(self._model.generation_config, "eos_token_id", None)
        if isinstance(config_eos, int):
            ids.append(config_eos)
        elif config_eos:
            ids.extend(config_eos)
        if self._tokenizer.eos_token_id is not None:
            ids.append(self._tokenizer.eos_token_id)
        for token in ("<|im_end|>", "<|EOT|>", "<|eot_id|>", "<|end|>"):
            tid = self._tokenizer.convert_tokens_to_ids(token)
            if isinstance(tid, int) and tid != self._tokenizer.unk_token_id and tid >= 0:
                ids.append(tid)
        # Any special token ends a narration: a fine-tuned adapter may close its answer with another one
        # (e.g. <|im_start|> of a next turn), and text after it is never part of the answer.
        ids += [i for i in getattr(self._tokenizer, "all_special_ids", []) if i != self._tokenizer.unk_token_id]
        return sorted(set(ids))

    def write_headline(self, summary_facts: dict[str, Any], sentences: list[str]) -> str | None:
        if not self.headline_enabled:
            return None
        return super().write_headline(summary_facts, sentences)


def _is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(exc)
