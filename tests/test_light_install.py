"""A light install: without the model extras (torch, transformers, peft, ...) the offline report, the digests and
the post-commit hook work.

Every Python process of these runs (the CLI, and the hook's background job it starts) gets a ``sitecustomize``
that makes the model packages unimportable, as on a machine where only ``pip install narrator`` ran; it also
records every attempt, so the test shows that the offline paths do not even try. The core dependencies in
pyproject.toml are checked to hold nothing of the model stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import BASE_DATE, GitRepo

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "safetensors", "gguf", "datasets",
         "weasyprint")

BLOCKER = '''
import os, sys

_HEAVY = {heavy!r}


class _Blocked:
    """Model packages are not installed here (a light install)."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _HEAVY:
            with open(os.environ["NARRATOR_TEST_BLOCKED_LOG"], "a") as log:
                log.write(name + "\\n")
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: light install)", name=name)
        return None

    def find_module(self, name, path=None):
        return None


sys.meta_path.insert(0, _Blocked())
'''


def test_core_dependencies_hold_no_model_stack():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = " ".join(project["dependencies"]).lower()
    for name in HEAVY:
        assert name not in core, f"{name} is a core dependency; it belongs in an extra"
    extras = project["optional-dependencies"]
    assert any("torch" in d for d in extras["model"]) and any("weasyprint" in d for d in extras["pdf"])


@pytest.fixture
def light_env(tmp_path, isolated_env) -> dict[str, str]:
    site = tmp_path / "light-site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER.format(heavy=HEAVY), encoding="utf-8")
    log = tmp_path / "blocked.log"
    log.write_text("", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
           "NARRATOR_TEST_BLOCKED_LOG": str(log), "PYTHONIOENCODING": "utf-8"}
    check = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert check.returncode != 0 and "light install" in check.stderr  # the blocker is in force
    log.write_text("", encoding="utf-8")
    env["_LOG"] = str(log)
    return env


def narrate(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "narrator", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_report_digest_and_hook_work_without_the_model_stack(tmp_path, light_env):
    repo = GitRepo(tmp_path / "shop")
    repo.commit("feat: add export to spreadsheet", {"src/export.py": "def export():\n    return 1\n"},
                when=BASE_DATE + timedelta(hours=1))
    repo.commit("fix: crash when the basket is empty", {"src/basket.py": "x = 1\n"},
                when=BASE_DATE + timedelta(days=1))

    report = narrate(light_env, "report", "--repo", str(repo.path), "--since", "2026-11-01", "--until",
                     "2026-11-08", "--format", "md")
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith("# shop") and "1 new feature or improvement" in report.stdout

    html = tmp_path / "report.html"
    assert narrate(light_env, "report", "--repo", str(repo.path), "-o", str(html), "--since", "2026-11-01",
                   "--until", "2026-11-08").returncode == 0
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    pdf = narrate(light_env, "report", "--repo", str(repo.path), "-o", str(tmp_path / "r.pdf"))
    assert pdf.returncode == 1 and "PDF output needs WeasyPrint: pip install 'narrator[pdf]'" in pdf.stderr
    assert not (tmp_path / "r.pdf").exists()

    digest = narrate(light_env, "digest", "--repo", str(repo.path), "--since", "2026-11-02", "--until",
                     "2026-11-08", "--out", str(tmp_path / "digests"))
    assert digest.returncode == 0, digest.stderr
    assert (tmp_path / "digests" / "2026-W45.html").exists()

    assert narrate(light_env, "hook", "install", "--repo", str(repo.path)).returncode == 0
    commit = subprocess.run(["git", "-C", str(repo.path), "commit", "-q", "--allow-empty", "-m",
                             "feat: add a light mode"], env=light_env, capture_output=True, text=True)
    assert commit.returncode == 0 and commit.stderr == ""
    hook_log = Path(light_env["NARRATOR_CACHE_DIR"]) / "logs" / "hook.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "narrated" not in (hook_log.read_text() if hook_log.exists() else ""):
        time.sleep(0.1)
    assert "narrated" in hook_log.read_text(), hook_log.read_text() if hook_log.exists() else "no hook log"
    shown = narrate(light_env, "commit", "HEAD", "--repo", str(repo.path), "--format", "md")
    assert shown.returncode == 0 and "light mode" in shown.stdout.lower()

    attempts = set(Path(light_env["_LOG"]).read_text(encoding="utf-8").split())
    assert {a.split(".")[0] for a in attempts} <= {"weasyprint"}, (  # (the PDF attempt above, on purpose)
        f"the offline paths tried to import {sorted(attempts)}")

    engines = narrate(light_env, "engines", "--repo", str(repo.path))  # probes the hf engine's packages
    assert engines.returncode == 0 and "heuristic" in engines.stdout


LOADED = '''
import runpy, sys
sys.argv = ["narrate", *sys.argv[1:]]
try:
    runpy.run_module("narrator", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
else:
    code = 0
names = sorted(sys.modules)
sys.stderr.write("\\nLOADED " + " ".join(names) + "\\n")
sys.exit(code)
'''


def test_json_report_with_the_builtin_engine_loads_no_templates_delivery_or_plugin_scan(tmp_path, isolated_env):
    """``--format json`` with the heuristic engine streams the report without Jinja2, without the delivery
    package (mail, TLS, HTTP) and without scanning the installed distributions for engine plugins."""
    repo = GitRepo(tmp_path / "shop")
    repo.commit("feat: add export to spreadsheet", {"src/export.py": "def export():\n    return 1\n"},
                when=BASE_DATE + timedelta(hours=1))
    out = tmp_path / "r.json"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    run = subprocess.run([sys.executable, "-c", LOADED, "report", "--repo", str(repo.path), "--since",
                          "2026-11-01", "--until", "2026-11-08", "--format", "json", "-o", str(out)],
                         env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["repository"] == "shop"
    loaded = set(run.stderr.rsplit("LOADED ", 1)[1].split())
    assert "narrator.app.report" in loaded  # the report did run in this interpreter
    unwanted = {m for m in loaded if m.split(".")[0] in ("jinja2", "markupsafe", "email", "ssl", "smtplib")
                or m.startswith(("narrator.report.render", "narrator.delivery", "narrator.app.delivery"))
                or m == "importlib.metadata"}
    assert not unwanted, f"a JSON report loaded {sorted(unwanted)}"

    md = subprocess.run([sys.executable, "-c", LOADED, "report", "--repo", str(repo.path), "--since",
                         "2026-11-01", "--until", "2026-11-08", "--format", "md"],
                        env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert md.returncode == 0 and md.stdout.startswith("# shop")
    assert "jinja2" in set(md.stderr.rsplit("LOADED ", 1)[1].split())  # (the check above can see Jinja2)
