"""The shape of the code: no import cycles between narrator's modules, layers import downwards only, and a
third-party engine registered through the entry-point group works exactly as documented."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import BASE_DATE

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "narrator"

# Who may import whom (top-level packages/modules of narrator). A module may always import itself.
LAYERS = {
    "cli": {"app", "config", "errors", "git", "report", "engines", "hooks", "progress", "timespec", "cache",
            "categories", "explain", "prompts", "delivery", "evidence", "allocator"},
    "app": {"config", "errors", "git", "report", "engines", "hooks", "progress", "timespec", "cache", "categories",
            "explain", "prompts", "delivery", "evidence"},
    "delivery": {"errors", "git"},
    "hooks": {"errors", "git", "cache"},
    "report": {"errors", "git", "categories", "timespec", "cache", "evidence"},  # cache: output refuses the cache directory
    "engines": {"errors", "git", "prompts", "config", "cache", "categories", "evidence"},
    "explain": {"errors", "git", "engines"},
    "prompts": {"git"},
    "cache": {"errors", "git"},
    "git": {"errors", "categories", "safe_regex", "evidence"},
    "evidence": set(),  # pure: plain data in, frozen data out; imported by git/classify, prompts, report, app
    "config": {"errors"},
    "timespec": {"errors"},
    "safe_regex": {"errors"},
    "progress": set(),
    "allocator": set(),  # the narrate process's C allocator settings (cli only)
    "categories": set(),
    "errors": set(),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """narrator modules imported by this file, at any depth (lazy imports inside functions count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("narrator")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("narrator") and \
                node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imports(path) if m in modules and m not in (name, "narrator")}
    return graph


def test_no_import_cycles_between_modules():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    # a package's __init__ re-exporting its own submodules is not a cycle between modules
    real = [c for c in cycles if len({n.split(".")[1] if "." in n else n for n in c}) > 1 or
            not any(n.count(".") == 1 and any(m.startswith(n + ".") for m in c) for n in c)]
    assert not real, "import cycles: " + "; ".join(" -> ".join(c) for c in real)


def test_layers_import_downwards_only():
    bad = []
    for name, targets in _graph().items():
        parts = name.split(".")
        if len(parts) < 2 or parts[1] in ("__main__",):
            continue
        layer = parts[1]
        allowed = LAYERS.get(layer)
        assert allowed is not None, f"{name}: add its layer to LAYERS (and to docs/architecture.md)"
        for target in targets:
            tlayer = target.split(".")[1] if "." in target else target
            if tlayer != layer and tlayer not in allowed:
                bad.append(f"{name} imports {target}")
    assert not bad, "\n".join(bad)


def test_git_subprocesses_only_in_the_git_layer():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if name.startswith("narrator.git"):
            continue
        text = path.read_text(encoding="utf-8")
        if "run_git" in text or '["git",' in text or "'git'," in text:
            offenders.append(name)
    assert not offenders, f"git commands outside narrator.git: {offenders}"


def test_every_module_has_a_docstring():
    missing = [_module_name(p) for p in PACKAGE.rglob("*.py")
               if p.stat().st_size and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
               and p.name != "__init__.py"]
    assert not missing, missing


def test_a_third_party_engine_registered_by_entry_point_narrates_a_report(git_repo, tmp_path, monkeypatch):
    """Exactly the documented contract: a class in the `narrator.engines` entry-point group, called with its
    settings dict, implementing only the Engine protocol (name, fingerprint, narrate with on_batch)."""
    site = tmp_path / "site"
    (site / "shout_engine").mkdir(parents=True)
    (site / "shout_engine" / "__init__.py").write_text(textwrap.dedent('''
        from narrator.git.facts import Narration

        class ShoutEngine:
            name = "shout"

            def __init__(self, settings):
                self.prefix = settings.get("prefix", "!")

            def fingerprint(self):
                return "shout/1/" + self.prefix

            def narrate(self, requests, diffs=None, on_progress=None, on_batch=None):
                out = [Narration(sha=r.commit.sha, text=self.prefix + " " + r.commit.subject, engine=self.name,
                                 source="model") for r in requests]
                if on_batch:
                    on_batch(out)
                return out
    '''))
    dist = site / "shout_engine-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-engine\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[narrator.engines]\nshout = shout_engine:ShoutEngine\n")
    monkeypatch.syspath_prepend(str(site))
    user = tmp_path / "user.toml"
    user.write_text('[engines.shout]\nprefix = "LOUD:"\n')
    monkeypatch.setenv("NARRATOR_CONFIG_FILE", str(user))
    git_repo.commit("Add the basket", {"app/basket.py": "def total():\n    return 1\n"}, when=BASE_DATE)

    from click.testing import CliRunner

    from narrator.cli import cli

    runner = CliRunner()
    listed = runner.invoke(cli, ["engines", "--format", "json", "--repo", str(git_repo.path)])
    assert listed.exit_code == 0, listed.output
    assert "shout" in listed.output
    result = runner.invoke(cli, ["report", "--repo", str(git_repo.path), "--engine", "shout", "--format", "json",
                                 "--since", "2026-11-01", "--until", "2026-11-30"])
    assert result.exit_code == 0, result.output
    assert "LOUD: Add the basket" in result.output
    sys.modules.pop("shout_engine", None)
