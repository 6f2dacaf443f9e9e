"""Training on several processes at once: rank helpers, main-only writes, sharding and the launch recipe.

``accelerate launch`` (torchrun underneath) starts one process per device; each runs the same
``python -m finetune train`` and ``finetune.train`` wraps the model in DDP, so gradients are
all-reduced after every optimizer step (NCCL on GPUs, gloo on the CPU). This module holds what the
processes must agree on:

* who they are (:func:`rank`, :func:`world_size`, :func:`is_main_process`: read from the launcher's
  environment, so they work before any process group exists, e.g. when logging is set up);
* which examples each one trains on (:func:`shard`: disjoint, nothing duplicated);
* sums and maxima over processes (:func:`reduce_sum`, :func:`reduce_max`, :func:`any_rank`), barriers,
  and a check that every rank holds the same trainable weights (:func:`check_same_weights`);
* that only the main process writes files (:func:`main_process_only`, used around checkpoints, the
  adapter, summaries and exports; the others wait at a barrier);
* how to start such a run (:func:`launch_argv`, :func:`launch_env`, :func:`launch`, behind
  ``python -m finetune launch``).

NVLink multicast stays off: NCCL_NVLS_ENABLE=0, TORCH_SYMM_MEM_DISABLE_MULTICAST=1 and
NVSHMEM_DISABLE_NVLS=1 (:data:`MULTICAST_OFF`). The multi-GPU machines this project trains on are shared
and a program that uses multicast can put the host's GPUs out of service; the gain for LoRA's small
all-reduces is nil. :func:`launch_env` sets them for the child processes and :func:`disable_multicast`
sets them again inside every training process, so a run started with plain ``accelerate launch`` or
``torchrun`` is covered too.

Two things about accelerate's launcher that are easy to get wrong (both read off accelerate 1.16):
``accelerate launch --cpu --num_processes 2`` starts ONE process unless it runs under mpirun, so the
CPU recipe uses ``--multi_gpu`` (torchrun) with ``train.device=cpu``, which gives gloo processes; and
a scheduler passed to ``accelerator.prepare`` is stepped ``num_processes`` times per optimizer step,
so ``finetune.train`` steps its scheduler itself (its step counts are already per optimizer step).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import subprocess
import sys
import warnings
from typing import Any, Iterator, Mapping, Sequence, TypeVar

from finetune.errors import FinetuneError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Environment that keeps NVLink multicast off in NCCL, PyTorch's symmetric memory and NVSHMEM.
MULTICAST_OFF: dict[str, str] = {
    "NCCL_NVLS_ENABLE": "0",
    "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
    "NVSHMEM_DISABLE_NVLS": "1",
}


class DistributedError(FinetuneError):
    """The processes of a multi-process run disagree (different weights) or cannot be launched."""


# ---------------------------------------------------------------- who am I

def _env_int(names: Sequence[str], default: int) -> int:
    for name in names:
        value = os.environ.get(name, "")
        if value.strip().isdigit():
            return int(value)
    return default


def rank() -> int:
    """Global rank of this process (0 when not launched by torchrun / accelerate / mpirun)."""
    return _env_int(("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"), 0)


def world_size() -> int:
    """Number of processes of this run (1 when not launched by a multi-process launcher)."""
    return max(1, _env_int(("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"), 1))


def is_main_process() -> bool:
    return rank() == 0


def configure_logging(level: int, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> None:
    """Log INFO from rank 0 only; every rank still logs its warnings and errors, tagged with its rank.

    The other ranks also hide library progress bars and deprecation notices (rank 0 shows them once).
    """
    if world_size() > 1:
        fmt = f"[rank {rank()}] {fmt}"
        if not is_main_process():  # the same code runs on rank 0, which says it all once
            level = max(level, logging.WARNING)
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers is imported
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # "Loading weights" bars
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=level, format=fmt)


def disable_multicast(environ: Any = None) -> list[str]:
    """Set :data:`MULTICAST_OFF` in ``environ`` (default ``os.environ``); returns the names that had another value."""
    env = os.environ if environ is None else environ
    changed = [name for name, value in MULTICAST_OFF.items() if env.get(name, value) != value]
    if changed:
        log.warning("NVLink multicast stays off: %s reset to %s (see finetune.distributed)", ", ".join(changed),
                    ", ".join(f"{n}={MULTICAST_OFF[n]}" for n in changed))
    env.update(MULTICAST_OFF)
    return changed


# ---------------------------------------------------------------- data

def shard(items: Sequence[T], rank_: int, world: int) -> list[T]:
    """This rank's share of ``items``: every ``world``-th item from ``rank_``.

    The shares of ranks 0..world-1 are disjoint and together hold every item exactly once; their
    lengths differ by at most one.
    """
    if world < 1 or not 0 <= rank_ < world:
        raise ValueError(f"rank {rank_} is not in a world of {world}")
    return list(items[rank_::world])


# ---------------------------------------------------------------- collectives (no-ops in one process)

def _dist() -> Any:
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1 else None


def _device() -> Any:
    import torch

    dist = _dist()
    if dist is not None and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _all_reduce(values: Sequence[float], op_name: str) -> list[float]:
    dist = _dist()
    if dist is None:
        return [float(v) for v in values]
    import torch

    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_device())
    dist.all_reduce(tensor, op=getattr(dist.ReduceOp, op_name))
    return [float(v) for v in tensor.cpu()]


def reduce_sum(values: Sequence[float]) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (float64, so token counts stay exact)."""
    return _all_reduce(values, "SUM")


def reduce_max(values: Sequence[float]) -> list[float]:
    """Element-wise maximum of ``values`` over all ranks."""
    return _all_reduce(values, "MAX")


def reduce_mean(value: float) -> float:
    return reduce_sum([value])[0] / world_size_of_group()


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on at least one (so all ranks stop at the same step)."""
    return reduce_max([1.0 if flag else 0.0])[0] > 0


def world_size_of_group() -> int:
    dist = _dist()
    return dist.get_world_size() if dist is not None else 1


def barrier() -> None:
    dist = _dist()
    if dist is not None:
        dist.barrier()


@contextlib.contextmanager
def main_process_only(main: bool | None = None) -> Iterator[bool]:
    """``with main_process_only() as writer: if writer: ...``: all ranks meet before and after the block.

    The block's writes happen on the main process only; the others wait at the closing barrier, so
    when any rank leaves the block the files are complete.
    """
    writer = is_main_process() if main is None else main
    barrier()
    try:
        yield writer
    finally:
        barrier()


def gather_strings(value: str) -> list[str]:
    """``value`` from every rank, in rank order."""
    dist = _dist()
    if dist is None:
        return [value]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return [str(v) for v in out]


def weights_digest(model: Any) -> str:
    """sha256 of the trainable parameters (names and fp32 values): what DDP must keep identical on every rank."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters(), key=lambda item: item[0]):
        if param.requires_grad:
            digest.update(name.removeprefix("module.").encode())
            digest.update(param.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def check_same_weights(model: Any) -> list[str]:
    """Digests of the trainable weights of every rank; raises DistributedError when they differ."""
    digests = gather_strings(weights_digest(model))
    if len(set(digests)) > 1:
        listed = ", ".join(f"rank {i}: {d[:12]}" for i, d in enumerate(digests))
        raise DistributedError(f"the ranks hold different trainable weights after training ({listed}); "
                               "gradients were not all-reduced: launch with `python -m finetune launch` or "
                               "`accelerate launch --multi_gpu` and do not mix models between processes")
    return digests


def cleanup() -> None:
    """Destroy the process group, if this process is in one (quiet exit of a multi-process run)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------- the launch recipe

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch_argv(finetune_args: Sequence[str], num_processes: int, *, cpu: bool = False, port: int | None = None,
                python: str | None = None, module: str = "finetune") -> list[str]:
    """The ``accelerate launch`` command line that runs ``python -m finetune FINETUNE_ARGS`` on N processes.

    GPU: ``--multi_gpu`` (torchrun, one process per GPU, NCCL). CPU: also ``--multi_gpu`` -- accelerate's
    ``--cpu`` starts one process unless run under mpirun -- and ``--device cpu`` for ``train`` so each
    process builds a CPU Accelerator (gloo). The precision is chosen by ``finetune.train`` (bf16 on CUDA).
    """
    if num_processes < 1:
        raise DistributedError(f"--num-processes must be at least 1, not {num_processes}")
    cmd = [python or sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes),
           "--num_machines", "1", "--mixed_precision", "no" if cpu else "bf16", "--dynamo_backend", "no"]
    if num_processes > 1:
        cmd += ["--multi_gpu", "--main_process_port", str(port or free_port())]
    args = list(finetune_args)
    if cpu and args[:1] == ["train"] and "--device" not in args:
        args += ["--device", "cpu"]
    return cmd + ["-m", module] + args


def launch_env(num_processes: int, *, cpu: bool = False, threads: int | None = None,
               base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the launched processes: multicast off, and on the CPU one share of the cores each."""
    env = dict(os.environ if base is None else base)
    disable_multicast(env)
    if cpu:
        per_process = threads or max(1, (os.cpu_count() or 1) // max(num_processes, 1))
        env["OMP_NUM_THREADS"] = str(per_process)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def shell_line(argv: Sequence[str], env: Mapping[str, str], *, cpu: bool = False) -> str:
    """``VAR=value ... accelerate launch ...`` as one copy-pasteable line (what ``launch --dry-run`` prints)."""
    import shlex

    names = (*MULTICAST_OFF, *(("OMP_NUM_THREADS",) if cpu else ()))
    return " ".join([*(f"{n}={env[n]}" for n in names), *(shlex.quote(a) for a in argv)])


def launch(finetune_args: Sequence[str], num_processes: int, *, cpu: bool = False, threads: int | None = None,
           port: int | None = None) -> int:
    """Run ``python -m finetune FINETUNE_ARGS`` on ``num_processes`` processes; returns the launcher's exit code."""
    if not finetune_args:
        raise DistributedError("nothing to launch: give a finetune command, e.g. "
                               "`python -m finetune launch -n 2 train -c finetune/configs/smollm2-135m-cocktail-2gpu.yaml`")
    argv = launch_argv(finetune_args, num_processes, cpu=cpu, port=port)
    env = launch_env(num_processes, cpu=cpu, threads=threads)
    log.info("launching: %s", shell_line(argv, env, cpu=cpu))
    try:
        return subprocess.run(argv, env=env).returncode
    except OSError as exc:
        raise DistributedError(f"cannot start accelerate launch ({exc}); install accelerate "
                               "(pip install 'narrator[finetune]')") from None
