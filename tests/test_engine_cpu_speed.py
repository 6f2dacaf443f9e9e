"""The hf engine's CPU speed levers (measured in bench/narrate_levers.py), each checked for what it must keep.

- the stop at the first sentence end keeps exactly the text a report shows (``clean_output``), per sequence;
- bfloat16 is chosen on CPUs that multiply it in hardware (AVX512-BF16 or AMX), float32 elsewhere;
- ``OMP_WAIT_POLICY=PASSIVE`` is the default before torch is first imported, and a user's value wins;
- the adapter is merged into the weights at load (no LoRA layers left to run per token).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from narrator.engines.guard import clean_output
from narrator.engines.hf_stop import first_sentence_complete

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tests.test_engine_hf import build_lora_adapter, build_tiny_model, engine_for  # noqa: E402


@pytest.mark.parametrize("text, complete", [
    ("Fixed the login page", False),
    ("Fixed the login page.", False),  # the model may still write the end token or more of this sentence
    ("Fixed the login page. Also", True),
    ("Fixed the login page! It", True),
    ("Fixed the e.g. login page", False),  # no capital after the full stop: clean_output does not cut there
    ("Uses flask.json now", False),
    ("Fixed the login page\n\nThe", True),  # a paragraph break
    ("\n\nFixed the login page", False),  # leading blank lines are stripped first
])
def test_first_sentence_complete_matches_where_clean_output_cuts(text, complete):
    assert first_sentence_complete(text) is complete
    if complete:  # cutting there changes nothing a report shows
        head = text
        while first_sentence_complete(head[:-1]):
            head = head[:-1]
        assert clean_output(head) == clean_output(text + " more words after it.")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-speed") / "model")


def test_stopping_at_the_first_sentence_keeps_the_same_cleaned_answers(tiny, monkeypatch):
    texts = ["Fixed the basket.", "Explain in one sentence what this change does and why it matters. " * 3,
             "def total(self): return sum(item.price for item in self.items)"]
    engine = engine_for(tiny, max_new_tokens=24)
    engine.stop_at_sentence = False
    full = engine._generate(texts)
    engine.stop_at_sentence = True
    stopped = engine._generate(texts)
    assert [clean_output(a) for a in stopped] == [clean_output(a) for a in full]
    assert engine.batches[-1]["steps"] <= engine.batches[-2]["steps"]


def test_the_stop_criterion_marks_each_sequence_on_its_own(tiny):
    from narrator.engines.hf_stop import first_sentence_stop

    engine = engine_for(tiny)
    engine.load()
    tok = engine.tokenizer
    prompt = tok(["a b", "a b"], return_tensors="pt", padding=True)["input_ids"]
    answers = tok(["Done. The end", "Still going on"], return_tensors="pt", padding=True,
                  add_special_tokens=False)["input_ids"]
    criterion = first_sentence_stop(tok, prompt.shape[1])
    done = criterion(torch.cat([prompt, answers], dim=1), None)
    assert done.tolist() == [True, False]


def test_bfloat16_on_cpus_that_multiply_it_in_hardware(monkeypatch):
    from narrator.engines import hf_loading

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert hf_loading.resolve_dtype("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert hf_loading.resolve_dtype("auto", "cpu") == "float32"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert hf_loading.resolve_dtype("auto", "cpu") == "bfloat16"

    def broken() -> bool:
        raise RuntimeError("private helper changed")

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", broken, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", broken, raising=False)
    assert hf_loading.resolve_dtype("auto", "cpu") == "float32"  # never breaks loading
    assert hf_loading.resolve_dtype("float32", "cpu") == "float32"


@pytest.mark.parametrize("preset, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_sleep_unless_the_user_says_otherwise(preset, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if preset:
        env["OMP_WAIT_POLICY"] = preset
    code = ("import os; from narrator.engines.hf_loading import import_torch; import_torch(); "
            "print(os.environ['OMP_WAIT_POLICY'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


def test_the_adapter_is_merged_into_the_weights_at_load(tiny, tmp_path):
    adapter = build_lora_adapter(tiny, tmp_path / "lora")
    engine = engine_for(tiny, adapter=str(adapter))
    engine.load()
    assert not any("lora_" in name for name, _ in engine._model.named_parameters())
    unmerged = engine_for(tiny, adapter=str(adapter))
    unmerged.merge_adapter = False
    unmerged.load()
    assert any("lora_" in name for name, _ in unmerged._model.named_parameters())
    texts = ["Fixed the basket.", "def total(self): return sum(item.price for item in self.items)"]
    assert engine._generate(texts) == unmerged._generate(texts)
