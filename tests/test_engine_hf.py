"""The hf engine and the shared generation pipeline, on a tiny randomly initialised Llama built here.

The tiny model (2 layers, a byte-level BPE tokenizer trained in the test) writes nonsense, which is the
point for the guard: its narrations must fall back to the heuristic sentence and be counted. Pipeline
behaviour that needs sensible text (combine step, headline, secrets) uses a scripted engine instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from narrator.engines.base import NarrationRequest  # noqa: E402
from narrator.engines.generation import GeneratingEngine  # noqa: E402
from narrator.engines.hf import HFEngine  # noqa: E402
from narrator.errors import EngineError  # noqa: E402
from narrator.git.classify import Classifier  # noqa: E402
from narrator.git.walker import GitDiffs, Repository, read_facts  # noqa: E402
from narrator.prompts import PromptBudget  # noqa: E402

CORPUS = [
    "Explain in one sentence what this change does and why it matters.",
    "File: app/models.py (modified) def total(self): return sum(item.price for item in self.items)",
    "You explain software changes to managers and clients who do not read code.",
    "Fixed the checkout so that the basket total includes taxes. Added tests for the login page.",
    "### System: ### Instruction: ### Response: diff --git a/ b/ @@ -1,3 +1,4 @@ import os",
] * 20


def build_tiny_model(path: Path, hidden: int = 32, seed: int = 0) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    raw.train_from_iterator(CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>",
                                        unk_token="<unk>", pad_token="<pad>")
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, bos_token_id=1, eos_token_id=2, pad_token_id=3,
                         tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


def build_lora_adapter(base_dir: Path, out: Path, seed: int = 1) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(str(base_dir))
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                        task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    with torch.no_grad():  # make the adapter matter at once
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    model.save_pretrained(str(out))
    cfg = json.loads((out / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(base_dir)
    (out / "adapter_config.json").write_text(json.dumps(cfg))
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tiny_adapter(tiny, tmp_path_factory) -> Path:
    return build_lora_adapter(tiny, tmp_path_factory.mktemp("adapter") / "lora")


def engine_for(model: Path, **extra) -> HFEngine:
    settings = {"model": str(model), "device": "cpu", "quantize": "none", "dtype": "float32", "max_new_tokens": 8,
                "batch_size": 4, "threads": 2, "max_prompt_tokens": 256}
    settings.update(extra)
    return HFEngine(settings)


def requests_for(git_repo, shas=None) -> tuple[list[NarrationRequest], GitDiffs]:
    repo = Repository.open(git_repo.path)
    if shas is None:
        shas = git_repo.git("rev-list", "--reverse", "HEAD").split()
    by_sha = {f.sha: f for f in read_facts(repo, shas)}
    classifier = Classifier()
    return [NarrationRequest(by_sha[s], classifier.classify(by_sha[s])) for s in shas], GitDiffs(repo)


def small_history(git_repo) -> list[str]:
    return [
        git_repo.commit("feat: add basket totals", {"app/cart.py": "def total(items):\n    return sum(items)\n"}),
        git_repo.commit("fix: include tax", {"app/cart.py": "def total(items, tax=0.2):\n    return sum(items) * (1 + tax)\n"}),
        git_repo.commit("docs: explain totals", {"README.md": "# Shop\n\nThe basket total includes tax.\n"}),
    ]


class ScriptedEngine(GeneratingEngine):
    """A generating engine whose answers come from a function: tests the pipeline without a model."""

    name = "scripted"

    def __init__(self, answer, batch_size: int = 4, budget: PromptBudget | None = None, key: str = "a"):
        self.answer = answer
        self.key = key
        self.batch_size = batch_size
        self.seen: list[str] = []
        self.batches: list[int] = []
        self.budget = budget

    def _generate(self, texts):
        self.seen += texts
        self.batches.append(len(texts))
        return [self.answer(t) for t in texts]

    def _budget(self):
        return self.budget or super()._budget()

    def _identity(self):
        return {"scripted": self.key}


# -- import hygiene -------------------------------------------------------------------------------------


def test_importing_the_model_engines_loads_no_torch():
    code = ("import sys, narrator.engines.hf, narrator.engines.openai, narrator.engines.hf_loading, "
            "narrator.cli, narrator.explain; print(any(m in sys.modules for m in ('torch', 'transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the tiny model ------------------------------------------------------------------------------------


def test_tiny_model_narrates_every_commit_in_order_and_falls_back_when_rejected(tiny, git_repo):
    shas = small_history(git_repo)
    requests, diffs = requests_for(git_repo, shas)
    engine = engine_for(tiny)
    batches: list[list] = []
    progress: list[int] = []
    out = engine.narrate(requests, diffs=diffs, on_progress=progress.append, on_batch=batches.append)
    assert [n.sha for n in out] == shas
    assert sum(progress) == 3 and sorted(n.sha for b in batches for n in b) == sorted(shas)
    for n in out:  # random weights write nonsense: every sentence must be rejected and replaced
        assert n.source in ("model", "heuristic")
        if n.source == "heuristic":
            assert n.fallback_reason
        assert n.text
    assert any(n.source == "heuristic" and n.fallback_reason for n in out)
    assert engine.info.device == "cpu" and engine.info.quantize == "none" and engine.info.dtype == "float32"
    assert engine._tokenizer.padding_side == "left"


def test_batched_generation_with_left_padding_matches_one_by_one(tiny):
    engine = engine_for(tiny, max_new_tokens=6)
    texts = ["Fixed the basket.", "Explain in one sentence what this change does and why it matters. " * 3,
             "def total(self): return sum(item.price for item in self.items)"]
    batched = engine._generate(texts)
    single = [engine._generate([t])[0] for t in texts]
    assert batched == single


def test_fingerprint_names_model_adapter_and_settings(tiny, tiny_adapter):
    plain = engine_for(tiny).fingerprint()
    assert plain == engine_for(tiny).fingerprint()
    assert plain.startswith("hf:model:")
    with_adapter = engine_for(tiny, adapter=str(tiny_adapter)).fingerprint()
    assert with_adapter != plain and "+lora" in with_adapter
    assert engine_for(tiny, max_new_tokens=9).fingerprint() != plain
    assert engine_for(tiny, dtype="bfloat16").fingerprint() != plain
    assert engine_for(tiny, dtype="auto").fingerprint() in (plain, engine_for(tiny, dtype="bfloat16").fingerprint())


def test_adapter_changes_the_output(tiny, tiny_adapter):
    base = engine_for(tiny, max_new_tokens=6)
    adapted = engine_for(tiny, adapter=str(tiny_adapter), max_new_tokens=6)
    text = "Explain in one sentence what this change does and why it matters. def total(items): return 1"
    assert base._generate([text]) != adapted._generate([text])
    assert adapted.info.adapter == str(tiny_adapter) and adapted.info.adapter_base == str(tiny)


def test_adapter_for_another_base_is_a_clear_error_naming_both(tiny, tmp_path):
    other = build_tiny_model(tmp_path / "other-base", hidden=48)
    adapter = build_lora_adapter(other, tmp_path / "other-adapter")
    engine = engine_for(tiny, adapter=str(adapter))
    with pytest.raises(EngineError) as err:
        engine.load()
    message = str(err.value)
    assert str(other) in message and str(tiny) in message and "does not fit" in message


def test_nf4_without_cuda_is_an_error_not_a_fallback(tiny):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(EngineError, match="NF4 4-bit quantization needs a CUDA GPU"):
        engine_for(tiny, quantize="nf4").load()
    with pytest.raises(EngineError, match="no CUDA GPU"):
        engine_for(tiny, device="cuda").load()


def test_missing_weights_say_what_to_download_or_set(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with pytest.raises(EngineError) as err:
        engine_for("no-such-org/no-such-model").load()
    message = str(err.value)
    assert "no-such-org/no-such-model" in message and "HF_HUB_OFFLINE=1" in message
    assert "huggingface-cli download no-such-org/no-such-model" in message and "engines.hf.model" in message
    with pytest.raises(EngineError, match="does not exist"):
        engine_for(tmp_path / "missing", gguf_file="model.gguf").load()
    with pytest.raises(EngineError, match="not a model directory"):
        engine_for(tmp_path / "nowhere" / "model").load()


def test_corrupt_gguf_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 64)
    with pytest.raises(EngineError, match="not a GGUF file"):
        engine_for(bad).load()
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x07" * 40)
    with pytest.raises(EngineError, match="corrupt"):
        engine_for(truncated).load()


def test_cuda_out_of_memory_halves_the_batch_then_fails_clearly(tiny, monkeypatch):
    engine = engine_for(tiny, batch_size=8)
    engine.load()
    real = engine._generate_once
    sizes: list[int] = []

    def flaky(prompts):
        sizes.append(len(prompts))
        if len(prompts) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(prompts)

    monkeypatch.setattr(engine, "_generate_once", flaky)
    out = engine._generate(["a change"] * 8)
    assert len(out) == 8 and sizes == [8, 4, 2, 2, 2, 2] and engine.batch_size == 2

    def always(prompts):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(engine, "_generate_once", always)
    with pytest.raises(EngineError, match="ran out of memory even for a single prompt"):
        engine._generate(["a change", "another"])


def test_five_megabyte_diff_is_budgeted_and_named(tiny, git_repo):
    line = "value_{:07d} = compute(value_{:07d}) + 1\n"
    huge = "".join(line.format(i, i) for i in range(140_000))
    assert len(huge) > 5_000_000
    sha = git_repo.commit("feat: generated table", {"app/table.py": huge, "app/small.py": "x = 1\n"})
    requests, diffs = requests_for(git_repo, [sha])
    engine = engine_for(tiny)
    seen: list[str] = []
    real = engine._generate

    def spy(texts):
        seen.extend(texts)
        return real(texts)

    engine._generate = spy  # type: ignore[method-assign]
    [narration] = engine.narrate(requests, diffs=diffs)
    assert narration.sha == sha and narration.text
    assert seen and all(engine._count_tokens(t) <= 256 for t in seen)
    assert any("app/table.py" in t for t in seen)


def test_binary_only_commit_falls_back_and_names_the_file(tiny, git_repo):
    git_repo.commit("init", {"README.md": "hello\n"})
    sha = git_repo.commit("add logo", {"assets/logo.png": bytes(range(256)) * 40})
    requests, diffs = requests_for(git_repo, [sha])
    [n] = engine_for(tiny).narrate(requests, diffs=diffs)
    assert n.source == "heuristic" and n.fallback_reason == "no readable text changes"
    assert n.omitted == ("assets/logo.png (binary)",)


def test_merge_commit_gets_the_rule_based_sentence(tiny, git_repo):
    git_repo.commit("init", {"app/a.py": "a = 1\n"})
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.commit("feat: b", {"app/b.py": "b = 2\n"})
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("fix: a", {"app/a.py": "a = 3\n"})
    merge = git_repo.merge("feature", "Merge branch 'feature'")
    requests, diffs = requests_for(git_repo, [merge])
    engine = engine_for(tiny)
    [n] = engine.narrate(requests, diffs=diffs)
    assert n.sha == merge and n.text.startswith("Merged the branch")
    assert n.source == "heuristic" and n.fallback_reason == "merge commit"
    assert engine.batches == []  # the model was not asked


def test_model_returning_nothing_falls_back(tiny, git_repo):
    shas = small_history(git_repo)
    requests, diffs = requests_for(git_repo, shas)
    engine = engine_for(tiny)
    engine._generate = lambda texts: [""] * len(texts)  # type: ignore[method-assign]
    out = engine.narrate(requests, diffs=diffs)
    assert [n.source for n in out] == ["heuristic"] * 3
    assert all(n.fallback_reason == "empty output" for n in out)


# -- the pipeline with scripted answers -----------------------------------------------------------------


def test_good_answers_are_kept_as_model_narrations(git_repo):
    shas = small_history(git_repo)
    requests, diffs = requests_for(git_repo, shas)
    engine = ScriptedEngine(lambda t: "Changed how the basket total is worked out, so customers see the right price.")
    out = engine.narrate(requests, diffs=diffs)
    assert [n.source for n in out] == ["model"] * 3
    assert out[0].text.startswith("Changed how the basket total")


def test_batches_are_length_sorted(git_repo):
    files = {f"app/m{i}.py": "x = 1\n" * (1 + 30 * i) for i in range(5)}
    shas = [git_repo.commit(f"feat: module {name}", {name: body}) for name, body in files.items()]
    requests, diffs = requests_for(git_repo, shas)
    engine = ScriptedEngine(lambda t: "Added a module.", batch_size=2)
    engine.narrate(requests, diffs=diffs)
    lengths = [len(t) for t in engine.seen]
    assert lengths == sorted(lengths, reverse=True) and engine.batches == [2, 2, 1]


def test_large_commit_is_one_prompt_within_the_budget_and_names_what_it_left_out(git_repo):
    files = {f"app/part{i}.py": "".join(f"value_{i}_{j} = {j}\n" for j in range(300)) for i in range(3)}
    sha = git_repo.commit("feat: three parts", files)
    requests, diffs = requests_for(git_repo, [sha])
    engine = ScriptedEngine(lambda t: "Added three parts that hold the values the app needs.",
                            budget=PromptBudget(max_prompt_tokens=400, max_file_tokens=300))
    [n] = engine.narrate(requests, diffs=diffs)
    assert n.source == "model" and n.text == "Added three parts that hold the values the app needs."
    [prompt] = engine.seen  # one prompt per commit: the message first, then as much diff as fits
    assert prompt.index("three parts") < prompt.index("app/part")
    assert n.omitted and all(o.startswith("app/part") for o in n.omitted)


def test_secrets_never_reach_the_engine(git_repo):
    key = "ghp_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8"
    sha = git_repo.commit("chore: settings", {".env": "DATABASE_PASSWORD=topsecret123\n",
                                              "app/settings.py": f"GITHUB_TOKEN = '{key}'\nDEBUG = False\n"})
    requests, diffs = requests_for(git_repo, [sha])
    engine = ScriptedEngine(lambda t: "Changed the app settings.")
    [n] = engine.narrate(requests, diffs=diffs)
    sent = "\n".join(engine.seen)
    assert key not in sent and "topsecret123" not in sent and "DEBUG = False" in sent
    assert ".env (secrets file)" in n.omitted


def test_headline_is_kept_only_when_it_passes_the_guard_and_is_cached_by_the_session(git_repo):
    from narrator.app.session import Session

    facts = {"numbers": {"commits": 12, "people": 3}, "period": "2 Nov - 15 Nov 2026", "repository": "shop"}
    sentences = ["Fixed the basket total.", "Added a login page."]
    good = ScriptedEngine(lambda t: "The team fixed the basket total and added a login page across 12 changes.")
    assert good.write_headline(facts, sentences).startswith("The team fixed")
    invented = ScriptedEngine(lambda t: "The team shipped 40 changes to the payments service.", key="b")
    assert invented.write_headline(facts, sentences) is None
    assert "12" in good.seen[0] and "Added a login page." in good.seen[0]
    git_repo.commit("Add the shop", {"shop.py": "x = 1\n"})
    with Session.open(str(git_repo.path)) as session:  # engines are pure: the session caches headlines
        first = session.headline(good, facts, sentences)
        again = ScriptedEngine(lambda t: "never asked")
        assert session.headline(again, facts, sentences) == first and again.seen == []  # from the cache
        assert session.headline(invented, facts, sentences) is None
        assert session.headline(invented, facts, sentences) is None and len(invented.seen) == 2  # rejection cached
    with Session.open(str(git_repo.path), use_cache=False) as session:  # --no-cache: asked again
        fresh = ScriptedEngine(lambda t: "The team fixed the basket total and added a login page across 12 changes.")
        assert session.headline(fresh, facts, sentences) == first and len(fresh.seen) == 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_nf4_and_bf16_narrate(tiny, git_repo):
    pytest.importorskip("bitsandbytes")
    shas = small_history(git_repo)
    requests, diffs = requests_for(git_repo, shas)
    for quantize, dtype in (("nf4", "auto"), ("none", "bfloat16")):
        engine = HFEngine({"model": str(tiny), "device": "cuda", "quantize": quantize, "dtype": dtype,
                           "max_new_tokens": 8, "batch_size": 4})
        out = engine.narrate(requests, diffs=diffs)
        assert [n.sha for n in out] == shas
        assert engine.info.device.startswith("cuda") and engine.info.quantize == quantize
    auto = HFEngine({"model": str(tiny)})
    auto.load()
    assert auto.info.device == "cuda" and auto.info.quantize == "nf4"


def test_hub_id_loads_offline_from_the_local_hugging_face_cache(tiny, tmp_path, monkeypatch):
    import shutil

    hub = tmp_path / "hf-home" / "hub"
    snapshot = hub / "models--tiny-org--tiny-coder" / "snapshots" / "0123456789abcdef"
    shutil.copytree(tiny, snapshot)
    (hub / "models--tiny-org--tiny-coder" / "refs").mkdir(parents=True)
    (hub / "models--tiny-org--tiny-coder" / "refs" / "main").write_text("0123456789abcdef")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))  # read at import time otherwise
    engine = engine_for("tiny-org/tiny-coder")
    engine.load()
    assert Path(engine.info.base_dir).name == "0123456789abcdef"
    assert "hub:tiny-org/tiny-coder@0123456789abcdef" in json.dumps(engine._identity())
    status = HFEngine.status({"model": "tiny-org/tiny-coder", "device": "cpu", "quantize": "none"})
    assert status.detail.startswith("tiny-coder (configured)")
    assert any(line.startswith("weights: Hugging Face cache") for line in status.lines)


def test_an_interrupted_run_has_already_handed_over_finished_batches(git_repo):
    files = {f"app/m{i}.py": "x = 1\n" * (1 + 10 * i) for i in range(4)}
    shas = [git_repo.commit(f"feat: module {name}", {name: body}) for name, body in files.items()]
    requests, diffs = requests_for(git_repo, shas)
    calls = []

    def answer(text):
        calls.append(text)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return "Added a module to the app."

    stored = []
    with pytest.raises(KeyboardInterrupt):
        ScriptedEngine(answer, batch_size=2).narrate(requests, diffs=diffs, on_batch=stored.extend)
    assert len(stored) == 2 and all(n.source == "model" for n in stored)


def test_shipped_cocktail_adapter_is_the_default_for_the_stand_in_only():
    from pathlib import Path

    from narrator.engines.hf_choice import choose_model

    def adapter(setting: str, model: str, gguf_file: str | None) -> str | None:
        return choose_model(model, gguf_file, setting).adapter

    shipped = adapter("", "", "/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert shipped and Path(shipped, "adapter_config.json").is_file() and Path(shipped).name == "smollm2-cocktail"
    assert adapter("none", "", "/models/SmolLM2-135M-Instruct.Q4_1.gguf") is None
    assert adapter("/my/adapter", "", "/models/SmolLM2-135M-Instruct.Q4_1.gguf") == "/my/adapter"
    assert adapter("", "deepseek-ai/deepseek-coder-1.3b-instruct", None) is None
