"""Typed run configuration: dataclasses with help text, loaded from a YAML recipe and overridden by flags.

A recipe is YAML with one mapping per section (``model``, ``quant``, ``lora``, ``data``, ``train``,
``eval``). Overrides are dotted ``key=value`` pairs (``--set train.lr=1e-4``); values are parsed as
YAML scalars and checked against the type of the field they set. ``config_hash`` names everything
that changes what a run learns, so a checkpoint of one config is never resumed by another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from finetune.errors import FinetuneConfigError

TASKS = ("functions", "commits", "changelog")  # code summarization, commit explanation, narration
LANGUAGES = ("Python", "Java", "JavaScript", "PHP", "Ruby", "Go")


def _f(default: Any, help: str, **kw: Any) -> Any:
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass
class ModelConfig:
    name_or_path: str = _f("deepseek-ai/deepseek-coder-1.3b-instruct",
                           "Hub id or local directory of the base model (a directory may hold a GGUF file).")
    revision: str = _f("main", "Hub revision (commit sha or tag) of the base model; ignored for local paths.")
    gguf_file: str = _f("", "GGUF file name inside name_or_path; converted once to a cached HF directory.")
    cache_dir: str = _f("", "Where converted GGUF models are kept (default: narrator's cache, $NARRATOR_CACHE_DIR/models).")
    dtype: str = _f("auto", "Weights dtype when not quantized: auto (bf16 on CUDA, fp32 on CPU), bf16, fp16, fp32.")
    trust_remote_code: bool = _f(False, "Allow model code from the hub (off: no code is run from downloads).")


@dataclass
class QuantConfig:
    load_in_4bit: bool = _f(True, "Quantize the frozen base to 4 bit with bitsandbytes (needs CUDA).")
    quant_type: str = _f("nf4", "4-bit data type: nf4 or fp4.")
    double_quant: bool = _f(True, "Quantize the quantization constants too (QLoRA double quantization).")
    compute_dtype: str = _f("bf16", "dtype of the 4-bit matmuls: bf16 or fp16.")


@dataclass
class LoraSettings:
    r: int = _f(16, "LoRA rank.")
    alpha: int = _f(32, "LoRA alpha (scale = alpha / r).")
    dropout: float = _f(0.05, "Dropout on the LoRA input.")
    target_modules: list = _f(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                              "Module names that get LoRA adapters (attention and MLP projections).")


@dataclass
class DataConfig:
    source: str = _f("local", "local (JSON Lines files under root) or hub (CodeSearchNet / CommitPackFT).")
    root: str = _f("../shared/data", "Folder holding functions/{train,val,test}.jsonl[.gz], commits/... and "
                                     "changelog/... (a relative path is read from the recipe's repository root "
                                     "when it is not found from the working directory)")
    mixture: dict = _f({"functions": 0.5, "commits": 0.5},
                       "Share of each task in the training mixture (functions, commits, changelog); shares must add "
                       "up to 1 (0 drops a task).")
    eval_tasks: list = _f(list(TASKS), "Tasks whose test split is evaluated (a task without data under root is "
                                       "skipped unless the mixture trains on it).")
    train_per_language: int = _f(2100, "Cap of training records per language and task (compact subset; 0: all).")
    val_per_language: int = _f(300, "Cap of validation records per language and task.")
    test_per_language: int = _f(600, "Cap of test records per language and task.")
    languages: list = _f(list(LANGUAGES), "Languages kept.")
    total_examples: int = _f(0, "Training examples in the mixture (0: as many as the scarcest task allows).")
    apply_filters: bool = _f(True, "Re-apply the study's preprocessing filters when loading.")
    max_length: int = _f(1024, "Token budget of prompt + completion; long prompts are cut in the middle.")
    max_target_tokens: int = _f(64, "Longest completion kept, in tokens (longer targets are cut).")
    seed: int = _f(20240611, "Seed of subset sampling and mixture shuffling.")
    example_cache: str = _f("", "Folder caching built examples (narration prompts are budgeted with the model's "
                                "tokenizer, ~10 ms a record); empty: no cache.")


@dataclass
class TrainConfig:
    output_dir: str = _f("runs/cocktail", "Where checkpoints, the final adapter and train_summary.json go.")
    optimizer: str = _f("adagrad", "adagrad (the study's best), adamw or sgd.")
    lr: float = _f(2e-4, "Peak learning rate.")
    scheduler: str = _f("constant_with_warmup", "constant_with_warmup, linear or cosine.")
    warmup_steps: int = _f(50, "Warm-up optimizer steps.")
    batch_size: int = _f(4, "Examples per device per step.")
    grad_accum: int = _f(1, "Gradient accumulation steps.")
    epochs: float = _f(1.0, "Passes over the mixture.")
    max_steps: int = _f(0, "Stop after this many optimizer steps (0: no limit).")
    max_minutes: float = _f(0.0, "Stop after this much training time, saving the adapter (0: no limit).")
    packing: bool = _f(False, "Pack several examples into each row of pack_length tokens (no padding; attention "
                              "and positions restart at every example, so the loss is the unpacked one).")
    pack_length: int = _f(4096, "Tokens per packed row (with packing).")
    tokens_per_step: int = _f(0, "With packing: tokens per micro-batch per device, in whole rows of pack_length "
                                 "(0: batch_size rows); an optimizer step is grad_accum micro-batches.")
    eval_every: int = _f(200, "Validation loss every N optimizer steps (0: only at the end).")
    val_examples: int = _f(256, "Validation examples used for the periodic loss (0: all).")
    save_every: int = _f(500, "Checkpoint every N optimizer steps (0: only the final adapter).")
    gradient_checkpointing: bool = _f(True, "Recompute activations in the backward pass to save memory.")
    device: str = _f("auto", "auto, cuda or cpu.")
    seed: int = _f(42, "Seed of LoRA initialisation, dropout and batch order.")
    max_grad_norm: float = _f(1.0, "Gradient clipping (0: off).")
    log_every: int = _f(20, "Log the training loss every N steps.")
    progress: bool = _f(True, "Show progress bars.")


@dataclass
class EvalConfig:
    batch_size: int = _f(16, "Examples per forward pass when measuring cross-entropy.")
    limit: int = _f(0, "Evaluate at most this many test examples per task (0: all).")
    generate_limit: int = _f(100, "Examples per task for generation metrics (0: skip generation).")
    max_new_tokens: int = _f(48, "Longest generated answer.")
    split: str = _f("test", "Split evaluated: test or val.")


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)
    lora: LoraSettings = field(default_factory=LoraSettings)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    name: str = _f("cocktail", "Name of the run (used in tables and manifests).")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> "RunConfig":
        validate(self)
        return self


_SECTIONS = {"model": ModelConfig, "quant": QuantConfig, "lora": LoraSettings, "data": DataConfig,
             "train": TrainConfig, "eval": EvalConfig}
# Fields that do not change what is learned: they may differ between a checkpoint and its resumption.
_NOT_HASHED = {"train.output_dir", "train.max_minutes", "train.eval_every", "train.val_examples", "train.save_every",
               "train.log_every", "train.progress", "train.device", "model.cache_dir", "data.root", "eval", "name",
               "data.test_per_language", "data.eval_tasks", "data.example_cache"}


def _coerce(value: Any, default: Any, key: str, where: str) -> Any:
    """Check ``value`` against the type of the field's default, converting where it is unambiguous."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise FinetuneConfigError(f"{where}: {key} must be true or false, not {value!r}")
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise FinetuneConfigError(f"{where}: {key} must be a whole number, not {value!r}")
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise FinetuneConfigError(f"{where}: {key} must be a number, not {value!r}")
    if isinstance(default, str):
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise FinetuneConfigError(f"{where}: {key} must be text, not {value!r}")
    if isinstance(default, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            return list(value)
        raise FinetuneConfigError(f"{where}: {key} must be a list, not {value!r}")
    if isinstance(default, dict):
        if isinstance(value, str):  # "functions=0.5,commits=0.5" or "functions:0.5,..."
            out = {}
            for part in value.split(","):
                if not part.strip():
                    continue
                name, sep, share = part.replace(":", "=").partition("=")
                if not sep:
                    raise FinetuneConfigError(f"{where}: {key} entries look like task=share, not {part!r}")
                try:
                    out[name.strip()] = float(share)
                except ValueError:
                    out[name.strip()] = share.strip()  # normalise_mixture names the bad share
            value = out
        if isinstance(value, dict):
            return dict(value)
        raise FinetuneConfigError(f"{where}: {key} must be a mapping, not {value!r}")
    return value


def set_value(cfg: RunConfig, key: str, value: Any, where: str = "override") -> None:
    """Set one dotted key (``train.lr``) on ``cfg``, type-checked."""
    if key == "name":
        cfg.name = _coerce(value, cfg.name, key, where)
        return
    section, _, name = key.partition(".")
    if section not in _SECTIONS or not name:
        raise FinetuneConfigError(f"{where}: unknown key {key!r}; keys look like section.field with section one of "
                                  f"{', '.join(_SECTIONS)}")
    obj = getattr(cfg, section)
    names = {f.name for f in dataclasses.fields(obj)}
    if name not in names:
        raise FinetuneConfigError(f"{where}: unknown key {key!r}; {section} has {', '.join(sorted(names))}")
    setattr(obj, name, _coerce(value, getattr(obj, name), key, where))


def _parse_scalar(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (),
                values: Mapping[str, Any] | None = None) -> RunConfig:
    """Defaults < YAML recipe at ``path`` < ``values`` (flags) < ``overrides`` (``key=value`` strings)."""
    cfg = RunConfig()
    if path is not None:
        import yaml

        p = Path(path)
        if not p.is_file():
            raise FinetuneConfigError(f"recipe {p} does not exist; recipes ship in finetune/configs/")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise FinetuneConfigError(f"recipe {p} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise FinetuneConfigError(f"recipe {p} must be a mapping of sections")
        for section, body in raw.items():
            if section == "name":
                set_value(cfg, "name", body, str(p))
                continue
            if not isinstance(body, dict):
                raise FinetuneConfigError(f"{p}: section {section!r} must be a mapping")
            for key, value in body.items():
                set_value(cfg, f"{section}.{key}", value, str(p))
    for key, value in (values or {}).items():
        if value is not None:
            set_value(cfg, key, value, "flag")
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise FinetuneConfigError(f"override {item!r} must look like key=value (e.g. train.lr=1e-4)")
        set_value(cfg, key.strip(), _parse_scalar(text), f"override {item!r}")
    return validate(cfg)


def normalise_mixture(mixture: Mapping[str, Any], where: str = "data.mixture") -> dict[str, float]:
    """Shares per task as floats that add up to 1; clear errors otherwise. Tasks with share 0 are dropped."""
    if not mixture:
        raise FinetuneConfigError(f"{where} is empty; give shares such as functions=0.5,commits=0.5")
    out: dict[str, float] = {}
    for task, share in mixture.items():
        if task not in TASKS:
            raise FinetuneConfigError(f"{where}: unknown task {task!r}; tasks are {', '.join(TASKS)}")
        try:
            value = float(share)
        except (TypeError, ValueError):
            raise FinetuneConfigError(f"{where}: share of {task} must be a number, not {share!r}") from None
        if value < 0 or value > 1:
            raise FinetuneConfigError(f"{where}: share of {task} is {value}; shares lie between 0 and 1")
        if value > 0:
            out[task] = value
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6:
        listed = ", ".join(f"{t}={s:g}" if isinstance(s, (int, float)) else f"{t}={s}" for t, s in mixture.items())
        raise FinetuneConfigError(f"{where}: shares must add up to 1, but {listed} add up to {total:g}")
    return out


def validate(cfg: RunConfig) -> RunConfig:
    normalise_mixture(cfg.data.mixture)
    if cfg.data.source not in ("local", "hub"):
        raise FinetuneConfigError(f"data.source must be local or hub, not {cfg.data.source!r}")
    unknown = [lang for lang in cfg.data.languages if lang not in LANGUAGES]
    if unknown:
        raise FinetuneConfigError(f"data.languages: unknown {', '.join(unknown)}; known: {', '.join(LANGUAGES)}")
    if cfg.quant.quant_type not in ("nf4", "fp4"):
        raise FinetuneConfigError(f"quant.quant_type must be nf4 or fp4, not {cfg.quant.quant_type!r}")
    if cfg.quant.compute_dtype not in ("bf16", "fp16", "fp32"):
        raise FinetuneConfigError(f"quant.compute_dtype must be bf16, fp16 or fp32, not {cfg.quant.compute_dtype!r}")
    if cfg.model.dtype not in ("auto", "bf16", "fp16", "fp32"):
        raise FinetuneConfigError(f"model.dtype must be auto, bf16, fp16 or fp32, not {cfg.model.dtype!r}")
    if cfg.train.optimizer not in ("adagrad", "adamw", "sgd"):
        raise FinetuneConfigError(f"train.optimizer must be adagrad, adamw or sgd, not {cfg.train.optimizer!r}")
    if cfg.train.scheduler not in ("constant_with_warmup", "linear", "cosine", "constant"):
        raise FinetuneConfigError(f"train.scheduler {cfg.train.scheduler!r} is not one of "
                                  "constant_with_warmup, constant, linear, cosine")
    if cfg.train.device not in ("auto", "cuda", "cpu"):
        raise FinetuneConfigError(f"train.device must be auto, cuda or cpu, not {cfg.train.device!r}")
    for key in ("batch_size", "grad_accum"):
        if getattr(cfg.train, key) < 1:
            raise FinetuneConfigError(f"train.{key} must be at least 1")
    if cfg.train.lr <= 0:
        raise FinetuneConfigError("train.lr must be positive")
    if cfg.lora.r < 1 or not cfg.lora.target_modules:
        raise FinetuneConfigError("lora.r must be at least 1 and lora.target_modules must name modules")
    if cfg.data.max_length < 32 or cfg.data.max_target_tokens >= cfg.data.max_length:
        raise FinetuneConfigError("data.max_length must be at least 32 and larger than data.max_target_tokens")
    unknown_tasks = [t for t in cfg.data.eval_tasks if t not in TASKS]
    if unknown_tasks:
        raise FinetuneConfigError(f"data.eval_tasks: unknown {', '.join(unknown_tasks)}; tasks are {', '.join(TASKS)}")
    if cfg.train.packing and cfg.train.pack_length < cfg.data.max_length:
        raise FinetuneConfigError(f"train.pack_length ({cfg.train.pack_length}) must be at least data.max_length "
                                  f"({cfg.data.max_length}): one example must fit in a row")
    if cfg.eval.split not in ("test", "val"):
        raise FinetuneConfigError(f"eval.split must be test or val, not {cfg.eval.split!r}")
    return cfg


def config_hash(cfg: RunConfig) -> str:
    """A short hash of everything that changes what a run learns (not paths, logging or time limits)."""
    flat: dict[str, Any] = {}
    for section, body in cfg.to_dict().items():
        if section in _NOT_HASHED:
            continue
        if isinstance(body, dict):
            for key, value in body.items():
                if f"{section}.{key}" not in _NOT_HASHED:
                    flat[f"{section}.{key}"] = value
    text = json.dumps(flat, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def describe_fields() -> list[tuple[str, Any, str]]:
    """(key, default, help) for every field: `python -m finetune train --help-config` prints it."""
    rows = []
    cfg = RunConfig()
    for section, cls in _SECTIONS.items():
        obj = getattr(cfg, section)
        for f in dataclasses.fields(cls):
            rows.append((f"{section}.{f.name}", getattr(obj, f.name), f.metadata.get("help", "")))
    return rows


def dump_yaml(cfg: RunConfig) -> str:
    import yaml

    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
