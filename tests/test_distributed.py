"""Multi-process training on the CPU (issue 13): two gloo processes started by ``accelerate launch``.

The launch is the real one, ``accelerate launch --multi_gpu --num_processes 2 -m finetune train ...
--device cpu`` as built by ``finetune.distributed.launch_argv``, on a tiny random Llama saved to disk.
Each process also loads a probe (a ``sitecustomize`` on its PYTHONPATH, below) that records, per rank,
what it writes under the run's folder (audit hooks, torch.save, safetensors), a digest of the trainable
weights and the learning rate after every optimizer step, and which token rows it trained on. From
those records the tests check: both ranks hold identical LoRA weights after every step, the ranks train
on disjoint examples, the schedule advances once per step, only rank 0 writes (and it wrote every file
there is), logs and the printed result come from rank 0 only, tokens are summed over ranks, the
in-training validation loss (sharded over ranks) equals a one-process evaluation, and a 2-process
resume from a checkpoint reproduces the uninterrupted run bit for bit.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from finetune import distributed
from finetune.config import load_config

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "finetune" / "data"

PROBE = r'''
"""Test probe for tests/test_distributed.py: records what one rank of a launched run writes and trains on."""
import atexit, hashlib, json, os, sys

if os.environ.get("FINETUNE_PROBE_DIR") and os.environ.get("RANK") is not None:
    _RANK = int(os.environ["RANK"])
    _WATCH = os.path.realpath(os.environ["FINETUNE_PROBE_WATCH"])
    _PAD = int(os.environ["FINETUNE_PROBE_PAD"])
    _rec = {"rank": _RANK, "writes": [], "steps": [], "train_rows": []}
    _busy = [False]

    def _inside(path):
        if path is None or isinstance(path, int):
            return None
        p = os.path.realpath(os.path.abspath(os.fsdecode(path)))
        return os.path.relpath(p, _WATCH) if p == _WATCH or p.startswith(_WATCH + os.sep) else None

    def _note(event, *paths):
        rels = [_inside(path) for path in paths]
        if any(rel is not None for rel in rels):
            _rec["writes"].append([event, *rels])

    _WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def _audit(event, args):
        if _busy[0]:
            return
        _busy[0] = True
        try:
            if event == "open" and len(args) >= 3 and isinstance(args[2], int) and args[2] & _WRITING:
                _note(event, args[0])
            elif event in ("os.mkdir", "os.rmdir", "os.remove", "shutil.rmtree", "os.truncate"):
                _note(event, args[0])
            elif event in ("os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.copytree",
                           "shutil.move"):
                _note(event, args[0], args[1])
        except Exception:
            pass
        finally:
            _busy[0] = False

    sys.addaudithook(_audit)

    import torch
    import safetensors.torch as _st

    _save, _serialize = torch.save, _st.serialize_file

    def _torch_save(obj, f, *a, **kw):
        if isinstance(f, (str, os.PathLike)):
            _note("torch.save", f)
        return _save(obj, f, *a, **kw)

    def _serialize_file(tensors, filename, *a, **kw):
        _note("safetensors", filename)
        return _serialize(tensors, filename, *a, **kw)

    torch.save, _st.serialize_file = _torch_save, _serialize_file

    def _after_step(opt, args, kwargs):
        digest = hashlib.sha256()
        for group in opt.param_groups:
            for p in group["params"]:
                digest.update(p.detach().float().cpu().contiguous().numpy().tobytes())
        _rec["steps"].append({"lr": float(opt.param_groups[0]["lr"]), "digest": digest.hexdigest()})

    from torch.optim.optimizer import register_optimizer_step_post_hook

    register_optimizer_step_post_hook(_after_step)

    def _before_forward(module, args):
        if isinstance(module, torch.nn.Embedding) and module.training and torch.is_grad_enabled() and args:
            for row in args[0].tolist():
                while row and row[-1] == _PAD:
                    row.pop()
                _rec["train_rows"].append([hashlib.sha1(json.dumps(row).encode()).hexdigest(), len(row)])

    torch.nn.modules.module.register_module_forward_pre_hook(_before_forward)

    def _dump():
        with open(os.path.join(os.environ["FINETUNE_PROBE_DIR"], f"rank-{_RANK}.json"), "w") as handle:
            json.dump(_rec, handle)

    atexit.register(_dump)
'''


def _bench():
    spec = importlib.util.spec_from_file_location("train_scaling", ROOT / "bench" / "train_scaling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- fast checks (no launch)

@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shards_are_disjoint_and_cover_every_item(world):
    for n in range(0, 13):
        items = list(range(n))
        shares = [distributed.shard(items, r, world) for r in range(world)]
        flat = [i for share in shares for i in share]
        assert sorted(flat) == items and len(flat) == len(set(flat))
        assert max(map(len, shares)) - min(map(len, shares)) <= 1
    with pytest.raises(ValueError, match="not in a world"):
        distributed.shard([1, 2], 2, 2)


def test_launch_recipe_keeps_multicast_off_and_starts_one_process_per_device():
    argv = distributed.launch_argv(["train", "-c", "r.yaml"], 2, port=29511, python="python3")
    assert argv[:3] == ["python3", "-m", "accelerate.commands.launch"]
    assert argv[argv.index("--num_processes") + 1] == "2" and "--multi_gpu" in argv
    assert argv[argv.index("--main_process_port") + 1] == "29511"
    assert argv[-5:] == ["-m", "finetune", "train", "-c", "r.yaml"]
    single = distributed.launch_argv(["train"], 1)
    assert "--multi_gpu" not in single and single[single.index("--num_processes") + 1] == "1"
    # accelerate's --cpu would start ONE process without mpirun: the CPU recipe is torchrun + train.device=cpu
    cpu = distributed.launch_argv(["train"], 2, cpu=True)
    assert "--cpu" not in cpu and "--multi_gpu" in cpu and cpu[-2:] == ["--device", "cpu"]

    env = distributed.launch_env(2, base={"NCCL_NVLS_ENABLE": "1", "PATH": "/bin"})
    assert {k: env[k] for k in distributed.MULTICAST_OFF} == {
        "NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
    assert env["PATH"] == "/bin" and "OMP_NUM_THREADS" not in env
    assert distributed.launch_env(2, cpu=True, threads=3, base={})["OMP_NUM_THREADS"] == "3"
    line = distributed.shell_line(argv, env)
    assert line.startswith("NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 python3 -m")
    with pytest.raises(distributed.DistributedError, match="nothing to launch"):
        distributed.launch([], 2)


def test_training_process_resets_multicast(caplog):
    env = {"NCCL_NVLS_ENABLE": "1", "NVSHMEM_DISABLE_NVLS": "1"}
    with caplog.at_level(logging.WARNING):
        assert distributed.disable_multicast(env) == ["NCCL_NVLS_ENABLE"]
    assert env == distributed.MULTICAST_OFF and "multicast stays off" in caplog.text
    assert distributed.disable_multicast(env) == []


def test_launch_dry_run_prints_the_command(capsys):
    from finetune.__main__ import main

    assert main(["launch", "-n", "2", "--dry-run", "--", "train", "-c",
                 "finetune/configs/smollm2-135m-cocktail-2gpu.yaml"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 ")
    assert "--multi_gpu" in out and out.endswith("-m finetune train -c finetune/configs/smollm2-135m-cocktail-2gpu.yaml")


def test_rank_and_world_come_from_the_launcher_environment(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert (distributed.rank(), distributed.world_size(), distributed.is_main_process()) == (0, 1, True)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert (distributed.rank(), distributed.world_size(), distributed.is_main_process()) == (1, 2, False)


def test_one_process_collectives_are_identities():
    assert distributed.reduce_sum([1, 2.5]) == [1.0, 2.5] and distributed.reduce_max([3]) == [3.0]
    assert distributed.reduce_mean(4.0) == 4.0 and distributed.any_rank(False) is False
    with distributed.main_process_only(True) as writer:
        assert writer


def test_weights_digest_sees_trainable_weights_only():
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 1))
    net[0].weight.requires_grad_(False)
    before = distributed.weights_digest(net)
    assert distributed.check_same_weights(net) == [before]
    with torch.no_grad():
        net[0].weight.add_(1.0)  # frozen: not part of the digest
    assert distributed.weights_digest(net) == before
    with torch.no_grad():
        net[1].bias.add_(1e-3)
    assert distributed.weights_digest(net) != before


def test_two_gpu_recipe_is_the_shipped_three_task_recipe_with_the_step_split_over_two_gpus():
    one = load_config(ROOT / "finetune" / "configs" / "smollm2-135m-cocktail3.yaml").to_dict()
    two = load_config(ROOT / "finetune" / "configs" / "smollm2-135m-cocktail-2gpu.yaml").to_dict()
    # tokens a global optimizer step: per-device micro-batch x accumulation x devices
    assert (two["train"]["tokens_per_step"] * two["train"]["grad_accum"] * 2
            == one["train"]["tokens_per_step"] * one["train"]["grad_accum"])
    for cfg in (one, two):
        cfg.pop("name")
        cfg["train"].pop("output_dir")
        cfg["train"].pop("grad_accum")
    assert one == two, "keep smollm2-135m-cocktail-2gpu.yaml in step with smollm2-135m-cocktail3.yaml"


# ---------------------------------------------------------------- two gloo processes

@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    return _bench().build_tiny_model(tmp_path_factory.mktemp("tiny-llama") / "model")


def _overrides(model_dir: Path, out: Path) -> list[str]:
    return [f"model.name_or_path={model_dir}", "quant.load_in_4bit=false", f"data.root={FIXTURES}",
            "data.max_length=192", "data.max_target_tokens=32", "lora.r=8", "lora.alpha=16", "lora.dropout=0",
            "train.optimizer=adagrad", "train.lr=1e-2", "train.scheduler=linear",
            "train.warmup_steps=2", "train.batch_size=2", "train.max_steps=4", "train.save_every=2",
            "train.eval_every=2", "train.val_examples=6", "eval.batch_size=1", "train.log_every=1",
            "train.progress=false", "train.gradient_checkpointing=false", "train.epochs=100",
            f"train.output_dir={out}"]


def _launch(tmp_path: Path, name: str, sets: list[str], out: Path, extra: list[str], pad_id: int):
    site = tmp_path / "probe-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(PROBE)
    records = tmp_path / f"probe-{name}"
    records.mkdir()
    out.mkdir(parents=True, exist_ok=True)
    env = distributed.launch_env(2, cpu=True, threads=1)
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]), FINETUNE_PROBE_DIR=str(records),
               FINETUNE_PROBE_WATCH=str(out), FINETUNE_PROBE_PAD=str(pad_id))
    argv = distributed.launch_argv(["train", *[x for s in sets for x in ("--set", s)], *extra], 2, cpu=True)
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Error in sitecustomize" not in proc.stderr, proc.stderr[-4000:]
    ranks = [json.loads((records / f"rank-{r}.json").read_text()) for r in (0, 1)]
    return proc, ranks


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _written(writes: list[list]) -> set[str]:
    """Paths a rank wrote, with renames applied (export writes NAME.tmp-export/, then renames it to NAME)."""
    paths: set[str] = set()
    for event, *rels in writes:
        if event == "os.rename" and len(rels) == 2 and None not in rels:
            src, dst = rels
            moved = {p for p in paths if p == src or p.startswith(src + os.sep)}
            paths = (paths - moved) | {dst + p[len(src):] for p in moved} | {dst}
        else:
            paths |= {r for r in rels if r is not None}
    return paths


def _check_only_rank0_wrote(out: Path, ranks: list[dict], already: set[str] = frozenset()) -> None:
    assert ranks[1]["writes"] == [], f"rank 1 wrote under the run folder: {ranks[1]['writes'][:5]}"
    missing = sorted(_files(out) - set(already) - _written(ranks[0]["writes"]))
    assert not missing, f"files nobody was seen writing (the probe is blind?): {missing}"


def _check_lockstep(ranks: list[dict], steps: int) -> None:
    assert [len(r["steps"]) for r in ranks] == [steps, steps]
    assert [s["digest"] for s in ranks[0]["steps"]] == [s["digest"] for s in ranks[1]["steps"]]
    assert [s["lr"] for s in ranks[0]["steps"]] == [s["lr"] for s in ranks[1]["steps"]]


def _check_one_rank_speaks(proc) -> None:
    assert proc.stdout.count('"adapter_dir"') == 1  # the result is printed once
    info = [line for line in proc.stderr.splitlines() if " INFO " in line]
    assert info and all(line.startswith("[rank 0]") for line in info), [x for x in info if "[rank 0]" not in x]


@pytest.mark.slow  # two launches of two processes each: about 40 s on 2 busy CPU cores
def test_two_gloo_processes_train_in_lockstep_write_once_and_resume_exactly(tmp_path, tiny_model_dir):
    import torch
    from accelerate import Accelerator
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetune.data.mixture import build_bundle
    from finetune.features import EncodedDataset
    from finetune.train import _limit_val, evaluate_loss

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    out_a, out_b = tmp_path / "run-a", tmp_path / "run-b"

    # --- run A: 4 steps on 2 processes, checkpoint at step 2
    sets_a = _overrides(tiny_model_dir, out_a)
    proc, ranks = _launch(tmp_path, "a", sets_a, out_a, [], tok.pad_token_id)
    _check_lockstep(ranks, 4)
    digests_a = [s["digest"] for s in ranks[0]["steps"]]
    assert len(set(digests_a[1:])) == 3  # the weights move at every step once the warm-up lr is above 0
    # linear after a warm-up capped at a tenth of the run (at least 1 step), stepped once per optimizer step
    # (accelerate's prepared scheduler would step it once per process: 0.0, 0.00667, 0.0, 0.0)
    assert [s["lr"] for s in ranks[0]["steps"]] == pytest.approx([0.0, 0.01, 0.01 * 2 / 3, 0.01 / 3])
    rows = [[h for h, _ in r["train_rows"]] for r in ranks]
    assert [len(r) for r in rows] == [8, 8]  # 4 steps x batch 2 on each rank
    assert not set(rows[0]) & set(rows[1]), "the ranks trained on the same examples"
    _check_only_rank0_wrote(out_a, ranks)
    assert {"config.yaml", "train_summary.json", "adapter/adapter_model.safetensors",
            "checkpoints/step-2/optimizer.pt", "checkpoints/step-2/trainer_state.json"} <= _files(out_a)
    _check_one_rank_speaks(proc)
    summary = json.loads((out_a / "train_summary.json").read_text())
    result = summary["result"]
    assert summary["world_size"] == 2 and result["steps"] == 4 and result["examples_seen"] == 16
    assert result["train_tokens"] == sum(n for r in ranks for _, n in r["train_rows"])  # summed over ranks
    digests = summary["rank_weight_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]
    assert json.loads((out_a / "checkpoints" / "step-2" / "trainer_state.json").read_text())["world_size"] == 2
    assert [v["step"] for v in result["val_history"]] == [2, 4]

    # the validation loss was sharded over the two ranks (3 + 3 examples of 2 tasks, uneven batch counts);
    # one process evaluating every example on the saved adapter gets the same figure
    cfg = load_config(overrides=sets_a)
    bundle = build_bundle(cfg.data, splits=("train", "val"))
    val_sets = {t: EncodedDataset(tok, ex, cfg.data.max_length, cfg.data.max_target_tokens)
                for t, ex in _limit_val(bundle.val, cfg.train.val_examples, cfg.data.seed).items()}
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)), str(out_a / "adapter"))
    one = evaluate_loss(model, val_sets, 4, tok.pad_token_id, Accelerator(cpu=True))
    for key in ("functions", "commits", "all"):
        assert one[key] == pytest.approx(result["val_history"][-1][key], rel=1e-5)

    # --- run B: resume the step-2 checkpoint on 2 processes, export the adapter
    shutil.copytree(out_a / "checkpoints" / "step-2", out_b / "checkpoints" / "step-2")
    before = _files(out_b)
    proc, ranks_b = _launch(tmp_path, "b", _overrides(tiny_model_dir, out_b), out_b,
                            ["--resume", "latest", "--export", str(out_b / "export")], tok.pad_token_id)
    _check_lockstep(ranks_b, 2)
    assert [s["digest"] for s in ranks_b[0]["steps"]] == digests_a[2:]  # bit for bit the uninterrupted run
    assert [s["lr"] for s in ranks_b[0]["steps"]] == pytest.approx([0.01 * 2 / 3, 0.01 / 3])
    for r in (0, 1):
        assert [h for h, _ in ranks_b[r]["train_rows"]] == rows[r][4:]  # the batches the first run saw next
    _check_only_rank0_wrote(out_b, ranks_b, already=before)
    assert (out_b / "export" / "manifest.json").is_file()
    assert proc.stderr.count("resuming from") == 1
    _check_one_rank_speaks(proc)
    summary_b = json.loads((out_b / "train_summary.json").read_text())
    assert summary_b["result"]["steps"] == 4 and summary_b["rank_weight_digests"] == digests
    final_a, final_b = (load_file(str(d / "adapter" / "adapter_model.safetensors")) for d in (out_a, out_b))
    assert final_a.keys() == final_b.keys() and all(torch.equal(final_a[k], final_b[k]) for k in final_a)


def test_other_commands_run_on_rank_0_only(tmp_path, monkeypatch):
    from finetune.__main__ import main

    for name in ("TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS"):  # rank 1 sets them: restore after
        monkeypatch.delenv(name, raising=False)
    args = ["data", "--data-root", str(FIXTURES), "--set", "data.languages=Python,Go"]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main([*args, "--dump", str(tmp_path / "rank1.jsonl")]) == 0
    assert not (tmp_path / "rank1.jsonl").exists()
    monkeypatch.setenv("RANK", "0")
    assert main([*args, "--dump", str(tmp_path / "rank0.jsonl")]) == 0
    assert (tmp_path / "rank0.jsonl").read_text().count("\n") > 0


def test_scheduler_advances_once_per_optimizer_step_with_accumulation(tmp_path, tiny_model_dir):
    from torch.optim.optimizer import register_optimizer_step_post_hook

    from finetune.train import train

    lrs: list[float] = []
    handle = register_optimizer_step_post_hook(lambda opt, a, kw: lrs.append(opt.param_groups[0]["lr"]))
    try:
        sets = _overrides(tiny_model_dir, tmp_path / "run") + ["train.grad_accum=2", "train.max_steps=3",
                                                               "train.device=cpu", "train.save_every=0",
                                                               "train.eval_every=0"]
        result = train(load_config(overrides=sets))
    finally:
        handle.remove()
    assert result.steps == 3 and result.examples_seen == 12  # 3 steps x 2 micro-batches x batch 2
    assert lrs == pytest.approx([0.0, 0.01, 0.005])  # one optimizer step (and lr change) per 2 micro-batches
