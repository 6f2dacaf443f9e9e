"""``python -m finetune {train,evaluate,export,mine,data,launch}``: the fine-tuning command line.

Every command takes ``--config RECIPE.yaml`` and any number of ``--set section.key=value`` overrides
(``--help-config`` lists every key with its help text). Errors are ``NarratorError``s: one line on
stderr and a non-zero exit (``-v`` shows the traceback). Under a multi-process launch
(``python -m finetune launch -n 2 train ...`` or ``accelerate launch``) every process trains, but only
rank 0 logs, prints and exports, and the other commands run on rank 0 alone (``finetune.distributed``).
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Sequence

from narrator.errors import NarratorError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="YAML recipe (see finetune/configs/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set train.lr=1e-4 (repeatable)")
    p.add_argument("--data-root", help="shortcut for --set data.root=PATH")
    p.add_argument("--output-dir", help="shortcut for --set train.output_dir=PATH")
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], help="shortcut for --set train.device=...")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m finetune", description=__doc__.splitlines()[0])
    parser.add_argument("--help-config", action="store_true", help="list every config key with its default and help")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("train", help="train LoRA adapters on the configured mixture")
    _common(p)
    p.add_argument("--mixture", help="shortcut for --set data.mixture=functions=0.3,commits=0.4,changelog=0.3")
    p.add_argument("--max-steps", type=int, help="shortcut for --set train.max_steps=N")
    p.add_argument("--resume", help="checkpoint directory, or 'latest' under the output dir")
    p.add_argument("--export", help="also export the final adapter (bf16 + manifest) to this directory")

    p = sub.add_parser("evaluate", help="CE / perplexity and generation metrics of base and adapters")
    _common(p)
    p.add_argument("--adapter", action="append", default=[], metavar="LABEL=DIR",
                   help="an adapter to evaluate (repeatable); DIR alone uses its folder name as label")
    p.add_argument("--no-base", action="store_true", help="skip the base model")
    p.add_argument("--limit", type=int, help="at most N test examples per task (quick runs)")
    p.add_argument("--generate-limit", type=int, help="examples per task for BLEU/ROUGE (0 skips generation)")
    p.add_argument("--out", default="eval/results", help="output prefix: writes PREFIX.json and PREFIX.md")

    p = sub.add_parser("export", help="adapter -> bf16 safetensors + manifest for the hf engine")
    _common(p)
    p.add_argument("adapter_dir", help="a trained adapter directory (RUN/adapter)")
    p.add_argument("out_dir", help="where the exported adapter goes (replaced)")
    p.add_argument("--metrics", help="evaluation JSON whose figures go into the manifest")
    p.add_argument("--label", help="which model's figures to take from --metrics (default: the run name)")
    p.add_argument("--compare", action="append", default=[], metavar="LABEL",
                   help="also record this model's test CE from --metrics in the manifest (repeatable)")

    p = sub.add_parser("mine", help="build both record kinds from local git repositories")
    p.add_argument("repos", nargs="+", help="paths of local git repositories")
    p.add_argument("--out", required=True, help="output folder (gets functions/ and commits/ splits)")
    p.add_argument("--test-repo", action="append", default=[], help="repository (path or name) that is TEST only")
    p.add_argument("--val-repo", action="append", default=[], help="repository that is VAL only")
    p.add_argument("--max-commits", type=int, default=0, help="newest commits looked at per repository (0: all)")
    p.add_argument("--per-language", type=int, default=2100, help="cap per language and split")
    p.add_argument("--seed", type=int, default=20240611)
    p.add_argument("-v", "--verbose", action="store_true")

    p = sub.add_parser("data", help="show the data a recipe would train and test on")
    _common(p)
    p.add_argument("--dump", help="write the training mixture as JSON Lines here")
    p.add_argument("--chars", action="store_true",
                   help="budget narration prompts by characters (no tokenizer needed; training uses the tokenizer)")

    p = sub.add_parser("launch", help="run a finetune command on N processes (accelerate launch, one per GPU)",
                       description="e.g. python -m finetune launch -n 2 train -c "
                                   "finetune/configs/smollm2-135m-cocktail-2gpu.yaml (NVLink multicast kept off)")
    p.add_argument("-n", "--num-processes", type=int, required=True, help="processes (one per GPU)")
    p.add_argument("--cpu", action="store_true", help="CPU processes with the gloo backend (tests, smoke runs)")
    p.add_argument("--threads", type=int, help="CPU threads per process with --cpu (default: cores / N)")
    p.add_argument("--port", type=int, help="rendezvous port (default: a free one)")
    p.add_argument("--dry-run", action="store_true", help="print the command and its environment, run nothing")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("finetune_args", nargs=argparse.REMAINDER, help="the finetune command to run, e.g. train -c R.yaml")
    return parser


def _load(args: argparse.Namespace):
    from finetune.config import load_config

    values = {"data.root": getattr(args, "data_root", None), "train.output_dir": getattr(args, "output_dir", None),
              "train.device": getattr(args, "device", None), "data.mixture": getattr(args, "mixture", None),
              "train.max_steps": getattr(args, "max_steps", None), "eval.limit": getattr(args, "limit", None),
              "eval.generate_limit": getattr(args, "generate_limit", None)}
    return load_config(args.config, args.overrides, values)


def _adapters(specs: Sequence[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep:
            path, label = spec, Path(spec.rstrip("/")).name
            if label == "adapter":
                label = Path(spec.rstrip("/")).parent.name
        out[label] = path
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = getattr(args, "verbose", False)
    from finetune import distributed

    distributed.configure_logging(logging.DEBUG if verbose else logging.INFO)  # INFO from rank 0 only
    command = "python -m finetune " + " ".join(shlex.quote(a) for a in argv)
    if args.help_config:
        from finetune.config import describe_fields

        for key, default, help_text in describe_fields():
            print(f"{key} = {default!r}\n    {help_text}")
        return 0
    if not args.command:
        parser.print_help()
        return 2
    try:
        return _run(args, command)
    except NarratorError as exc:
        if verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def _run(args: argparse.Namespace, command: str) -> int:
    from finetune import distributed

    if args.command == "launch":
        rest = args.finetune_args[1:] if args.finetune_args[:1] == ["--"] else args.finetune_args
        if args.dry_run:
            argv = distributed.launch_argv(rest, args.num_processes, cpu=args.cpu, port=args.port)
            env = distributed.launch_env(args.num_processes, cpu=args.cpu, threads=args.threads)
            print(distributed.shell_line(argv, env, cpu=args.cpu))
            return 0
        return distributed.launch(rest, args.num_processes, cpu=args.cpu, threads=args.threads, port=args.port)
    if args.command != "train" and not distributed.is_main_process():
        logging.getLogger(__name__).debug("rank %d: %s runs on rank 0 only", distributed.rank(), args.command)
        return 0
    if args.command == "train":
        from finetune.train import train

        cfg = _load(args)
        result = train(cfg, resume=args.resume, command=command)
        distributed.cleanup()  # every rank is past train()'s last barrier: the files are written
        if not distributed.is_main_process():
            return 0
        print(json.dumps({k: v for k, v in result.to_dict().items() if k not in ("loss_history",)}, indent=2))
        if args.export:
            from finetune.export import base_model_entry, export_adapter

            summary = json.loads((Path(result.output_dir) / "train_summary.json").read_text())
            export_adapter(result.adapter_dir, args.export, base_model=base_model_entry(cfg.model),
                           data_hashes=summary["data"]["hashes"], command=command,
                           mixture=summary["data"].get("mixture"),
                           train_summary={k: summary["result"][k] for k in ("steps", "examples_seen",
                                                                             "tokens_per_second", "stopped")})
            print(f"exported to {args.export}")
        return 0
    if args.command == "evaluate":
        from finetune.evaluate import markdown_table, evaluate_models, write_results

        cfg = _load(args)
        results = evaluate_models(cfg, _adapters(args.adapter), include_base=not args.no_base)
        results["command"] = command
        json_path, md_path = write_results(results, args.out)
        print(markdown_table(results))
        print(f"wrote {json_path} and {md_path}")
        return 0
    if args.command == "export":
        from finetune.export import base_model_entry, export_adapter

        cfg = _load(args)
        metrics = {}
        hashes = {}
        summary_path = Path(args.adapter_dir).parent / "train_summary.json"
        training = {}
        mixture = {}
        if summary_path.is_file():
            summary = json.loads(summary_path.read_text())
            hashes = summary.get("data", {}).get("hashes", {})
            mixture = summary.get("data", {}).get("mixture", {})
            training = {k: summary["result"].get(k) for k in ("steps", "examples_seen", "tokens_per_second",
                                                               "stopped", "config_hash")}
            training["device"] = summary.get("device")
        if args.metrics:
            data = json.loads(Path(args.metrics).read_text())
            label = args.label or cfg.name
            entry = data.get("models", {}).get(label, {})
            metrics = {"tasks": entry.get("tasks"), "languages": entry.get("languages"),
                       "generation": {t: {k: v for k, v in g.items() if k != "samples"}
                                                                   for t, g in entry.get("generation", {}).items()},
                       "base": data.get("models", {}).get("base", {}).get("tasks"),
                       "compared": {c: data.get("models", {}).get(c, {}).get("tasks") for c in args.compare}}
        out = export_adapter(args.adapter_dir, args.out_dir, base_model=base_model_entry(cfg.model),
                             data_hashes=hashes, metrics=metrics, command=command, train_summary=training,
                             mixture=mixture)
        print(f"exported to {out}")
        return 0
    if args.command == "mine":
        from finetune.data.mine import mine_repositories

        report = mine_repositories(args.repos, args.out, test_repos=args.test_repo, val_repos=args.val_repo,
                                   max_commits=args.max_commits, per_language=args.per_language, seed=args.seed)
        print(json.dumps(report, indent=2))
        return 0
    if args.command == "data":
        from finetune.data.mixture import build_bundle

        cfg = _load(args)
        counter = None
        from finetune.data.loaders import has_task

        narration = "changelog" in cfg.data.mixture or ("changelog" in cfg.data.eval_tasks
                                                         and has_task(cfg.data.root, "changelog", "test"))
        if narration and not args.chars:  # budget narration prompts with the model's tokenizer, as training does
            from finetune.data.mixture import TokenCounter
            from finetune.modeling import load_tokenizer

            counter = TokenCounter(load_tokenizer(cfg.model))
        bundle = build_bundle(cfg.data, counter=counter)
        from collections import Counter

        info = {"train": dict(Counter(f"{e.task}/{e.language}" for e in bundle.train)),
                "train_total": len(bundle.train),
                "val": {t: len(v) for t, v in bundle.val.items()}, "test": {t: len(v) for t, v in bundle.test.items()},
                "sources": bundle.sources, "hashes": bundle.hashes()}
        print(json.dumps(info, indent=2))
        if args.dump:
            with open(args.dump, "w", encoding="utf-8") as handle:
                for e in bundle.train:
                    handle.write(json.dumps(e.to_dict()) + "\n")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
