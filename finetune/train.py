"""LoRA fine-tuning of the narration model on the cocktail mixture: NF4 on CUDA, plain weights on the CPU.

A plain PyTorch loop driven by ``accelerate`` (so ``accelerate launch`` spreads it over several GPUs
unchanged): Adagrad, constant learning rate after warm-up, completion-only loss (the LM head runs on the
completion positions only), optional sequence packing (``train.packing``: rows of ``train.pack_length``
tokens, no padding, per-example attention and positions), validation loss every N steps, checkpoints that
carry a hash of the config (a checkpoint of another config is refused on resume), a time limit that still
saves the adapter, and a ``train_summary.json`` with the figures (tokens/s, peak memory, the mixture).
What several processes must agree on (sharding, sums over ranks, main-only writes) is in
``finetune.distributed``; its call sites here are marked ``[distributed]``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from finetune import distributed as dist
from finetune.config import RunConfig, config_hash, dump_yaml
from finetune.data.mixture import DataBundle, TokenCounter, build_bundle
from finetune.data.schema import Example
from finetune.errors import ResumeError
from finetune.features import (
    EncodedDataset,
    collate,
    collate_packed,
    completion_loss,
    completion_loss_module,
    encode_all,
    pack_rows,
)

log = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
WARMUP_STEPS = 5


@dataclass
class TrainResult:
    output_dir: str
    adapter_dir: str
    steps: int
    examples_seen: int
    train_tokens: int
    tokens_per_second: float
    seconds: float
    peak_memory_bytes: int
    final_train_loss: float
    val_history: list[dict[str, Any]] = field(default_factory=list)
    loss_history: list[dict[str, float]] = field(default_factory=list)
    stopped: str = "completed"
    config_hash: str = ""
    steady_tokens_per_second: float = 0.0  # excluding the first WARMUP_STEPS steps (allocator, kernels warm-up)
    data_seconds: float = 0.0  # part of `seconds` spent encoding and collating batches

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def make_optimizer(name: str, params: Sequence[Any], lr: float) -> Any:
    import torch

    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def make_scheduler(name: str, optimizer: Any, warmup: int, total: int) -> Any:
    from transformers import get_scheduler

    return get_scheduler(name, optimizer=optimizer, num_warmup_steps=warmup, num_training_steps=max(total, 1))


def find_checkpoint(output_dir: str | Path, resume: str) -> Path:
    """``resume`` is a checkpoint directory, or ``latest`` for the newest one under ``output_dir``."""
    if resume != "latest":
        path = Path(resume)
        if not (path / STATE_FILE).is_file():
            raise ResumeError(f"{path} is not a checkpoint (no {STATE_FILE}); checkpoints are "
                              f"{Path(output_dir) / 'checkpoints'}/step-N")
        return path
    root = Path(output_dir) / "checkpoints"
    found = sorted(root.glob("step-*"), key=lambda p: int(p.name.split("-")[1]) if p.name[5:].isdigit() else -1)
    found = [p for p in found if (p / STATE_FILE).is_file()]
    if not found:
        raise ResumeError(f"no checkpoint to resume under {root}")
    return found[-1]


def read_checkpoint_state(path: Path, expected_hash: str) -> dict[str, Any]:
    try:
        state = json.loads((path / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ResumeError(f"checkpoint {path} is damaged ({exc}); resume from another one") from None
    if state.get("config_hash") != expected_hash:
        raise ResumeError(f"checkpoint {path} was made with another config (hash {state.get('config_hash')}, "
                          f"this run {expected_hash}); resume with the same recipe and overrides, or start a "
                          "new output_dir")
    return state


def evaluate_loss(model: Any, datasets: dict[str, EncodedDataset], batch_size: int, pad_id: int,
                  accelerator: Any) -> dict[str, float]:
    """Token-weighted completion cross-entropy per task (and overall) on the given datasets."""
    import torch

    model = accelerator.unwrap_model(model)  # [distributed] ranks run different batch counts: no DDP forward
    model.eval()
    out: dict[str, float] = {}
    all_sum, all_n = 0.0, 0
    with torch.no_grad():
        for task, ds in datasets.items():
            total, count = 0.0, 0
            idx = dist.shard(range(len(ds)), accelerator.process_index, accelerator.num_processes)
            for start in range(0, len(idx), batch_size):
                batch = collate([ds[i] for i in idx[start:start + batch_size]], pad_id)
                batch = {k: v.to(accelerator.device) for k, v in batch.items()}
                with accelerator.autocast():
                    sums, counts = completion_loss(model, batch)
                total += float(sums)
                count += int(counts)
            stats = accelerator.reduce(torch.tensor([total, float(count)], device=accelerator.device), "sum")
            total, count = float(stats[0]), int(stats[1])
            out[task] = total / max(count, 1)
            all_sum += total
            all_n += count
    out["all"] = all_sum / max(all_n, 1)
    model.train()
    return out


def _limit_val(val: dict[str, list[Example]], n: int, seed: int) -> dict[str, list[Example]]:
    if n <= 0:
        return val
    out = {}
    per_task = max(1, n // max(len(val), 1))
    for task, items in val.items():
        out[task] = random.Random(f"{seed}:val:{task}").sample(items, per_task) if len(items) > per_task else items
    return out


def train(cfg: RunConfig, *, bundle: DataBundle | None = None, tokenizer: Any = None, model: Any = None,
          resume: str | None = None, command: str = "") -> TrainResult:
    """Train LoRA adapters for ``cfg``; ``tokenizer``/``model`` may be given (tests build tiny ones)."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    from finetune.modeling import add_lora, check_quantization, load_model, load_tokenizer, resolve_device

    dist.disable_multicast()  # [distributed] before any process group or NCCL communicator exists
    device = resolve_device(cfg.train.device)
    check_quantization(cfg.quant, device)  # before any data or model is read: fail fast and clearly
    chash = config_hash(cfg)
    out_dir = Path(cfg.train.output_dir)
    start_state: dict[str, Any] | None = None
    checkpoint: Path | None = None
    if resume:
        checkpoint = find_checkpoint(out_dir, resume)
        start_state = read_checkpoint_state(checkpoint, chash)

    mixed = "bf16" if device == "cuda" and torch.cuda.is_bf16_supported() else "no"
    accelerator = Accelerator(cpu=device == "cpu", mixed_precision=mixed,
                              gradient_accumulation_steps=cfg.train.grad_accum)
    set_seed(cfg.train.seed)
    _seed_everything(cfg.train.seed)
    main = accelerator.is_main_process
    if accelerator.num_processes > 1 and cfg.model.gguf_file and (tokenizer is None or model is None):
        from finetune.modeling import materialize

        with accelerator.main_process_first():  # [distributed] rank 0 converts the GGUF once; the others reuse it
            materialize(cfg.model)

    if tokenizer is None:
        tokenizer = load_tokenizer(cfg.model)
    if bundle is None:  # narration prompts are budgeted with this tokenizer, exactly as the hf engine does
        bundle = build_bundle(cfg.data, splits=("train", "val"), counter=TokenCounter(tokenizer))
    if model is None:
        base = load_model(cfg.model, cfg.quant, device, gradient_checkpointing=cfg.train.gradient_checkpointing,
                          device_index=accelerator.local_process_index if device == "cuda" else None)
        model = add_lora(base, cfg.lora)
    elif cfg.train.gradient_checkpointing and hasattr(model, "gradient_checkpointing_enable"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if checkpoint is not None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter" / "adapter_model.safetensors")))

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_ds = EncodedDataset(tokenizer, bundle.train, cfg.data.max_length, cfg.data.max_target_tokens)
    val_sets = {t: EncodedDataset(tokenizer, ex, cfg.data.max_length, cfg.data.max_target_tokens)
                for t, ex in _limit_val(bundle.val, cfg.train.val_examples, cfg.data.seed).items()}
    rows: list[list[int]] = []
    if cfg.train.packing:
        encoded = encode_all(tokenizer, bundle.train, cfg.data.max_length, cfg.data.max_target_tokens)
        train_ds._cache = dict(enumerate(encoded))
        rows = pack_rows([len(e.input_ids) for e in encoded], cfg.train.pack_length, cfg.data.seed)
        batch_rows = max(1, cfg.train.tokens_per_step // cfg.train.pack_length) if cfg.train.tokens_per_step \
            else cfg.train.batch_size
        fill = sum(len(e.input_ids) for e in encoded) / max(1, len(rows) * cfg.train.pack_length)
        log.info("packed %d examples into %d rows of %d tokens (%.1f%% filled), %d rows a step", len(encoded),
                 len(rows), cfg.train.pack_length, 100 * fill, batch_rows)
    else:
        batch_rows = cfg.train.batch_size

    world = accelerator.num_processes
    per_step = batch_rows * cfg.train.grad_accum * world
    units = len(rows) if cfg.train.packing else len(train_ds)
    steps_per_epoch = math.ceil(units / per_step)
    total_steps = math.ceil(steps_per_epoch * cfg.train.epochs)
    if cfg.train.max_steps:
        total_steps = min(total_steps, cfg.train.max_steps)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(cfg.train.optimizer, params, cfg.train.lr)
    # a short run (a small data-size point) warms up for at most a tenth of its steps
    warmup = min(cfg.train.warmup_steps, max(1, total_steps // 10))
    scheduler = make_scheduler(cfg.train.scheduler, optimizer, warmup, total_steps)
    loss_model = completion_loss_module(model)
    loss_model, optimizer = accelerator.prepare(loss_model, optimizer)  # [distributed] scheduler stepped below, per step
    start_step = 0
    if start_state is not None:
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", map_location="cpu", weights_only=True))
        scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", map_location="cpu", weights_only=True))
        start_step = int(start_state["step"])
        log.info("resuming from %s at step %d", checkpoint, start_step)
        if int(start_state.get("world_size", 1)) != world:  # [distributed]
            log.warning("checkpoint %s was made by %s processes, this run has %d: the batches after the resume "
                        "are not the ones the first run would have seen", checkpoint, start_state.get("world_size", 1),
                        world)

    def order_for_epoch(epoch: int) -> list[int]:
        idx = list(range(units))
        if epoch > 0:  # the mixture is already shuffled with the data seed; later epochs reshuffle
            random.Random(f"{cfg.train.seed}:epoch:{epoch}").shuffle(idx)
        return idx

    def batches():
        epoch = 0
        while True:
            order = order_for_epoch(epoch)
            for start in range(0, len(order), per_step):
                chunk = order[start:start + per_step]
                mine_ = dist.shard(chunk, accelerator.process_index, world)  # [distributed] disjoint shares
                if not mine_:
                    continue
                for a in range(0, len(mine_), batch_rows):
                    if cfg.train.packing:
                        yield collate_packed([[train_ds[i] for i in rows[r]] for r in mine_[a:a + batch_rows]],
                                             pad_id)
                    else:
                        yield collate([train_ds[i] for i in mine_[a:a + batch_rows]], pad_id)
            epoch += 1

    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.yaml").write_text(dump_yaml(cfg))
    loss_model.train()
    stream = batches()
    for _ in range(start_step * cfg.train.grad_accum):  # same data order after a resume
        next(stream)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step = start_step
    tokens = 0
    examples_per_unit = len(train_ds) / max(units, 1)
    resumed_examples = int(start_step * per_step * examples_per_unit)  # this rank counts only what it sees now
    examples_seen = 0
    train_seconds = 0.0
    steady_tokens, steady_seconds = 0, 0.0
    data_seconds = 0.0
    loss_history: list[dict[str, float]] = []
    val_history: list[dict[str, Any]] = []
    running, running_n = 0.0, 0
    stopped = "completed"
    wall_start = time.perf_counter()
    bar = tqdm(total=total_steps, initial=start_step, disable=not (main and cfg.train.progress), desc="train",
               dynamic_ncols=True)
    last_loss = float("nan")
    while step < total_steps:
        t0 = time.perf_counter()
        step_tokens = 0
        for _micro in range(cfg.train.grad_accum):
            td = time.perf_counter()
            batch = next(stream)
            n_tokens = int(batch.pop("tokens")) if "tokens" in batch else int(batch["attention_mask"].sum())
            n_examples = int(batch.pop("examples")) if "examples" in batch else int(batch["input_ids"].shape[0])
            data_seconds += time.perf_counter() - td
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            with accelerator.accumulate(loss_model):
                with accelerator.autocast():
                    loss_sum, loss_count = loss_model(**batch)
                loss = loss_sum / loss_count.clamp(min=1)
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.train.max_grad_norm:
                    accelerator.clip_grad_norm_(params, cfg.train.max_grad_norm)
                optimizer.step()
                if accelerator.sync_gradients:  # [distributed] once per optimizer step, whatever the world size
                    scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            step_tokens += n_tokens  # this rank's; summed over ranks at the end
            examples_seen += n_examples
            running += float(loss.detach())
            running_n += 1
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
        train_seconds += elapsed
        tokens += step_tokens
        if step - start_step >= WARMUP_STEPS:
            steady_tokens += step_tokens
            steady_seconds += elapsed
        step += 1
        bar.update(1)
        last_loss = running / max(running_n, 1)
        if step % cfg.train.log_every == 0 or step == total_steps:
            last_loss = dist.reduce_mean(last_loss)  # [distributed] mean over ranks (same steps on every rank)
            loss_history.append({"step": step, "loss": round(last_loss, 5)})
            bar.set_postfix(loss=f"{last_loss:.3f}", tok_s=f"{tokens * world / max(train_seconds, 1e-9):.0f}")
            log.info("step %d loss %.4f", step, last_loss)
            running, running_n = 0.0, 0
        if cfg.train.eval_every and step % cfg.train.eval_every == 0 and step < total_steps:
            val_history.append({"step": step, **evaluate_loss(model, val_sets, cfg.eval.batch_size, pad_id,
                                                               accelerator)})
            log.info("step %d val %s", step, val_history[-1])
        if cfg.train.save_every and step % cfg.train.save_every == 0 and step < total_steps:
            save_checkpoint(accelerator, model, optimizer, scheduler, out_dir, step, chash)
        if cfg.train.max_minutes and dist.any_rank(time.perf_counter() - wall_start > cfg.train.max_minutes * 60):
            stopped = f"time limit of {cfg.train.max_minutes:g} min reached at step {step} of {total_steps}"
            log.warning(stopped)
            break
    bar.close()
    val_history.append({"step": step, **evaluate_loss(model, val_sets, cfg.eval.batch_size, pad_id, accelerator)})
    adapter_dir = out_dir / "adapter"
    # [distributed] tokens and examples summed over ranks, time and memory their maximum; same weights everywhere
    tokens, steady_tokens, new_examples = (int(v) for v in dist.reduce_sum(
        [tokens, steady_tokens, examples_seen]))
    examples_seen = resumed_examples + new_examples
    peak = int(torch.cuda.max_memory_allocated()) if device == "cuda" else 0
    train_seconds, steady_seconds, peak_max = dist.reduce_max([train_seconds, steady_seconds, peak])
    peak, last_loss = int(peak_max), dist.reduce_mean(last_loss)
    rank_digests = dist.check_same_weights(accelerator.unwrap_model(model))
    with dist.main_process_only(main) as writer:
        if writer:
            accelerator.unwrap_model(model).save_pretrained(str(adapter_dir))
    result = TrainResult(
        output_dir=str(out_dir), adapter_dir=str(adapter_dir), steps=step, examples_seen=examples_seen,
        train_tokens=tokens, tokens_per_second=tokens / max(train_seconds, 1e-9), seconds=train_seconds,
        peak_memory_bytes=peak, final_train_loss=last_loss, val_history=val_history, loss_history=loss_history,
        stopped=stopped, config_hash=chash,
        steady_tokens_per_second=steady_tokens / steady_seconds if steady_seconds else 0.0,
        data_seconds=data_seconds)
    with dist.main_process_only(main) as writer:  # [distributed] the others wait until the summary is on disk
        if writer:
            summary = {"name": cfg.name, "command": command, "result": result.to_dict(), "config": cfg.to_dict(),
                       "data": {"train_examples": len(bundle.train), "sources": bundle.sources,
                                "hashes": bundle.hashes(), "mixture": mixture_record(cfg, bundle)},
                       "device": _device_name(device), "world_size": world, "rank_weight_digests": rank_digests}
            (out_dir / "train_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return result


def mixture_record(cfg: RunConfig, bundle: DataBundle) -> dict[str, Any]:
    """What the run trained on: the configured shares, the examples drawn per task, packing."""
    from collections import Counter

    from finetune.config import normalise_mixture

    return {"shares": normalise_mixture(cfg.data.mixture), "examples": dict(Counter(e.task for e in bundle.train)),
            "total": len(bundle.train), "epochs": cfg.train.epochs, "packing": cfg.train.packing,
            "pack_length": cfg.train.pack_length if cfg.train.packing else None}


def save_checkpoint(accelerator: Any, model: Any, optimizer: Any, scheduler: Any, out_dir: Path, step: int,
                    chash: str) -> Path:
    import torch

    path = out_dir / "checkpoints" / f"step-{step}"
    with dist.main_process_only(accelerator.is_main_process) as writer:  # [distributed] rank 0 writes, all wait
        if writer:
            path.mkdir(parents=True, exist_ok=True)
            accelerator.unwrap_model(model).save_pretrained(str(path / "adapter"))
            torch.save(optimizer.state_dict(), path / "optimizer.pt")
            torch.save(scheduler.state_dict(), path / "scheduler.pt")
            (path / STATE_FILE).write_text(json.dumps({"step": step, "config_hash": chash,
                                                       "world_size": accelerator.num_processes}))
    return path


def _device_name(device: str) -> str:
    import platform

    import torch

    if device == "cuda":
        return f"{torch.cuda.get_device_name()} x{torch.cuda.device_count()}"
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
