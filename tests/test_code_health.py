"""Code health through PyDriller: delta-maintainability, method changes, the window's judgment, and
PyDriller/GitPython kept off the report's hot path."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from narrator.errors import CacheError, RepositoryError
from narrator.git.code_health import (CODE_HEALTH_VERSION, LOW_RISK_COMPLEXITY, LOW_RISK_NLOC, LOW_RISK_PARAMETERS,
                                      CodeHealth, FileHealth, MethodChange, MethodMetrics, RiskDelta,
                                      measure_code_health, window_health)

ROOT = Path(__file__).resolve().parent.parent

SMALL = '''\
def greet(name):
    return "hello " + name


def farewell(name):
    return "bye " + name


class Store:
    def get(self, key):
        return self.data[key]
'''

# greet grows long and complex; farewell is removed; a private helper and a public method are added.
GROWN = '''\
def greet(name, loud=False, times=1):
    out = []
    for i in range(times):
        if loud and i % 2:
            out.append("HELLO " + name.upper())
        elif loud:
            out.append("HELLO " + name)
        elif i > 3:
            out.append("hi " + name)
        elif name.startswith("a"):
            out.append("hey " + name)
        else:
            out.append("hello " + name)
        if len(out) > 10:
            break
    if not out:
        return ""
    if times > 5:
        out.reverse()
    text = ", ".join(out)
    text = text.strip()
    return text


def _shout(text):
    return text.upper()


class Store:
    def get(self, key):
        return self.data[key]

    def put(self, key, value):
        self.data[key] = value
'''


def _pydriller_dmm(path: str, sha: str) -> tuple:
    """PyDriller's own commit-level values (through a read-only Repo, as the module does)."""
    import git
    from pydriller.domain.commit import Commit
    from pydriller.utils.conf import Conf

    repo = git.Repo(path)
    try:
        commit = Commit(repo.commit(sha), Conf({"path_to_repo": path}))
        return commit.dmm_unit_size, commit.dmm_unit_complexity, commit.dmm_unit_interfacing
    finally:
        repo.close()


@pytest.fixture
def history(git_repo):
    first = git_repo.commit("Add greetings", {"src/app/greet.py": SMALL})
    grown = git_repo.commit("Make greetings configurable", {"src/app/greet.py": GROWN})
    tests_only = git_repo.commit("Test greetings", {"tests/test_greet.py": "def test_x():\n    assert 1\n",
                                                     "docs/greet.md": "# Greet\n"})
    mixed = git_repo.commit("Shorten greet", {"src/app/greet.py": SMALL.replace("farewell", "wave"),
                                              "tests/test_greet.py": "def test_y():\n    assert 2\n"})
    return git_repo, {"first": first, "grown": grown, "tests_only": tests_only, "mixed": mixed}


def test_method_changes_and_dmm(history):
    repo, shas = history
    order = [shas["grown"], shas["first"], shas["tests_only"]]
    healths = measure_code_health(repo.path, order)
    assert [h.sha for h in healths] == order
    grown = healths[0]
    assert [f.path for f in grown.files] == ["src/app/greet.py"]
    changes = {m.name: m for _, m in grown.methods()}
    assert changes["greet"].change == "changed"
    assert changes["greet"].before == MethodMetrics(nloc=2, complexity=1, parameters=1)
    assert changes["greet"].after.nloc > LOW_RISK_NLOC and changes["greet"].after.complexity > LOW_RISK_COMPLEXITY
    assert changes["greet"].signature_changed and changes["greet"].after.parameters == 3
    assert changes["farewell"].change == "removed" and changes["farewell"].public
    assert changes["_shout"].change == "added" and not changes["_shout"].public
    assert changes["Store.put"].change == "added" and changes["Store.put"].public
    assert "Store.get" not in changes  # untouched
    f = grown.files[0]
    assert f.change_type == "modified" and f.nloc_after > f.nloc_before and f.complexity_after > f.complexity_before
    # growing a small function into a long, complex one is mostly bad change in size and complexity terms
    assert grown.dmm_unit_size is not None and grown.dmm_unit_size < 0.3
    assert grown.dmm_unit_complexity is not None and grown.dmm_unit_complexity < 0.3
    # the same numbers as PyDriller's own Commit.dmm_* (this commit touches shipped source only)
    assert (grown.dmm_unit_size, grown.dmm_unit_complexity, grown.dmm_unit_interfacing) == \
        _pydriller_dmm(str(repo.path), shas["grown"])
    # the first commit only adds small functions: all good change
    assert healths[1].dmm_unit_size == 1.0 and healths[1].files[0].change_type == "added"
    assert {m.change for _, m in healths[1].methods()} == {"added"}
    # tests and docs are not shipped source: nothing measured, counted apart
    assert healths[2].files == () and healths[2].dmm is None and healths[2].other_files == 2


def test_tests_are_left_out_of_the_measure(history):
    repo, shas = history
    (mixed,) = measure_code_health(str(repo.path), [shas["mixed"]])
    assert [f.path for f in mixed.files] == ["src/app/greet.py"] and mixed.other_files == 1
    names = {(m.name, m.change) for _, m in mixed.methods()}
    assert ("wave", "added") in names and ("_shout", "removed") in names and ("Store.put", "removed") in names


def test_vendored_minified_and_generated_code_is_not_measured(git_repo):
    body = "func F() int {\n\tx := 1\n\treturn x\n}\n"
    sha = git_repo.commit("Vendor and generate", {
        "vendor/lib/a.go": "package lib\n\n" + body, "dist/app.min.js": "function f(){return 1}\n",
        "zz_gen.go": "package x\n\n" + body, "made.go": "// Code generated by stringer; DO NOT EDIT.\n\npackage x\n\n" + body,
        "real.go": "package x\n\n" + body})
    (health,) = measure_code_health(git_repo.path, [sha])
    assert [f.path for f in health.files] == ["real.go"] and health.other_files == 4


def test_round_trip_is_versioned_json(history):
    repo, shas = history
    healths = measure_code_health(repo.path, [shas["grown"], shas["tests_only"]])
    for h in healths:
        data = json.loads(json.dumps(h.to_dict()))
        assert data["v"] == CODE_HEALTH_VERSION
        assert CodeHealth.from_dict(data) == h
    stale = {**healths[0].to_dict(), "v": CODE_HEALTH_VERSION + 1}
    with pytest.raises(CacheError, match="version"):
        CodeHealth.from_dict(stale)
    broken = {**healths[0].to_dict(), "files": [{"path": "x"}]}
    with pytest.raises(CacheError, match="malformed"):
        CodeHealth.from_dict(broken)


def _snapshot(git_dir: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for path in sorted(git_dir.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(git_dir))] = (hashlib.sha1(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return out


def test_never_writes_to_the_repository(history):
    # PyDriller's own Git/Repository classes write blame.markUnblamableLines into .git/config; ours must not
    repo, shas = history
    before = _snapshot(repo.path / ".git")
    measure_code_health(repo.path, list(shas.values()))
    assert _snapshot(repo.path / ".git") == before


def test_bare_repository_and_merge(make_repo, tmp_path):
    work = make_repo("work")
    base = work.commit("Add greetings", {"src/greet.py": SMALL})
    work.git("checkout", "-q", "-b", "topic")
    topic = work.commit("Grow greetings", {"src/greet.py": GROWN})
    work.git("checkout", "-q", "main")
    work.commit("Docs", {"README.md": "hi\n"})
    merge = work.merge("topic", "Merge topic")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work.path), str(bare)], check=True)
    healths = measure_code_health(bare, [topic, merge, base])
    assert healths[0].files and healths[0].dmm is not None
    assert healths[1].files == () and healths[1].dmm is None  # PyDriller has no diff for merges


def test_errors_are_one_line_repository_errors(history, tmp_path):
    repo, shas = history
    with pytest.raises(RepositoryError, match="is not a git repository") as err:
        measure_code_health(tmp_path / "nothing-here", ["0" * 40])
    assert "\n" not in str(err.value)
    with pytest.raises(RepositoryError, match="is not in") as err:
        measure_code_health(repo.path, ["1234567890abcdef1234567890abcdef12345678"])
    assert "\n" not in str(err.value)
    assert measure_code_health(repo.path, []) == []


def test_thresholds_agree_with_pydriller():
    from pydriller.domain.commit import Method

    assert LOW_RISK_NLOC == Method.UNIT_SIZE_LOW_RISK_THRESHOLD
    assert LOW_RISK_COMPLEXITY == Method.UNIT_COMPLEXITY_LOW_RISK_THRESHOLD
    assert LOW_RISK_PARAMETERS == Method.UNIT_INTERFACING_LOW_RISK_THRESHOLD


JAVA = '''\
package x;

public class Outer {
    public int add(int a, int b) {
        return a + b;
    }

    private int hidden() {
        return 1;
    }

    static class Inner {
        protected void run() {
            go();
        }
    }
}
'''
GO = '''\
package srv

func (s *Server) Run() error {
	return nil
}

func (s *Server) stop() {
	s.x = 1
}

func New() *Server {
	return &Server{}
}
'''
RUBY = '''\
module Gem
  class Package
    def verify(a)
      a
    end

    def self.build(x)
      x
    end

    private

    def secret
      true
    end
  end
end
'''
PHP = '''\
<?php
class Foo
{
    public function create($x)
    {
        return $x;
    }

    private function hidden()
    {
        return 1;
    }
}
'''
JS = '''\
class Cart {
  add(item) {
    this.items.push(item);
  }

  _reset() {
    this.items = [];
  }
}

function total(cart) {
  return cart.items.length;
}
'''


def test_names_and_visibility_per_language(git_repo):
    sha = git_repo.commit("Add sources", {"src/main/java/x/Outer.java": JAVA, "srv/server.go": GO,
                                          "lib/gem/package.rb": RUBY, "src/Foo.php": PHP, "lib/cart.js": JS})
    (health,) = measure_code_health(git_repo.path, [sha])
    found = {(path.rsplit(".", 1)[-1], m.name): m.public for path, m in health.methods("added")}
    assert found == {
        ("java", "Outer.add"): True, ("java", "Outer.hidden"): False, ("java", "Outer.Inner.run"): True,
        ("go", "Server.Run"): True, ("go", "Server.stop"): False, ("go", "New"): True,
        ("rb", "Gem::Package.verify"): True, ("rb", "Gem::Package.build"): True, ("rb", "Gem::Package.secret"): False,
        ("php", "Foo.create"): True, ("php", "Foo.hidden"): False,
        ("js", "Cart.add"): True, ("js", "Cart._reset"): False, ("js", "total"): True,
    }
    assert health.dmm_unit_size == 1.0  # only small new methods


def test_java_annotations_do_not_confuse_lizard():
    import lizard

    from narrator.git.code_health import lizard_functions, mask_java_annotations

    source = (
        'class A {\n'
        '    @Override\n'
        '    @SuppressWarnings({"unchecked", "x(y"})\n'
        '    public long total(@Nullable Object a, int b) {\n'
        '        String mail = "ann@example.com"; // @Deprecated in a comment\n'
        '        return b;\n'
        '    }\n'
        '}\n')
    masked = mask_java_annotations(source)
    assert masked.count("\n") == source.count("\n") and len(masked) == len(source)
    assert "@" not in masked.split("String mail")[0] and '"ann@example.com"' in masked and "@Deprecated" in masked
    (fn,) = lizard_functions(lizard, "A.java", source)
    assert (fn.name, fn.start_line, fn.end_line, len(fn.parameters)) == ("A::total", 4, 7, 2)


# ---------------------------------------------------------------- the window's judgment


def _health(sha: str, path: str, low: int, high: int, methods: tuple[MethodChange, ...] = ()) -> CodeHealth:
    """A commit whose one file changed ``low``/``high`` lines of low-/high-risk method code (size and
    complexity alike)."""
    delta = RiskDelta(low, high)
    prop = None if delta.good + delta.bad == 0 else delta.good / (delta.good + delta.bad)
    f = FileHealth(path=path, language="Python", change_type="modified", added_lines=abs(low) + abs(high),
                   deleted_lines=0, nloc_before=0, nloc_after=0, complexity_before=0, complexity_after=0,
                   risk=(delta, delta, RiskDelta()), methods=methods)
    return CodeHealth(sha=sha, dmm_unit_size=prop, dmm_unit_complexity=prop, dmm_unit_interfacing=None, files=(f,))


def test_window_drop_names_commit_file_and_method():
    grew = MethodChange("Loader.load", MethodMetrics(300, 120, 2), MethodMetrics(400, 150, 2), public=True)
    healths = [_health("a" * 40, "src/loader.py", 5, 100, (grew,)),
               _health("b" * 40, "src/util.py", 10, 20),
               _health("c" * 40, "src/small.py", 10, 0)]
    window = window_health(healths)
    assert window.dropped and window.risky_growth == 120 and window.volume == 145
    assert window.dmm == pytest.approx(25 / 145)
    first = window.drivers[0]
    assert (first.sha, first.file, first.methods) == ("a" * 40, "src/loader.py", ("Loader.load",))
    assert "Loader.load grew from 300 to 400 lines, complexity 120 to 150" in first.reason
    assert [d.sha for d in window.drivers] == ["a" * 40, "b" * 40]  # c grew nothing risky
    json.dumps(window.to_dict())


def test_window_judgment_needs_evidence_and_growth():
    # deleting simple code is "bad" in DMM terms, but no drop: nothing went into long or complex methods
    deletions = window_health([_health("d" * 40, "src/old.py", -200, 0)])
    assert deletions.dmm == 0.0 and not deletions.dropped and not deletions.drivers
    # too little changed method code to judge
    tiny = window_health([_health("e" * 40, "src/x.py", 0, 20)])
    assert not tiny.dropped and "too little" in tiny.reason
    # mostly good change
    good = window_health([_health("f" * 40, "src/x.py", 150, 10)])
    assert not good.dropped and good.dmm > 0.9
    # nothing measured at all
    empty = window_health([CodeHealth("0" * 40, None, None, None)])
    assert empty.dmm is None and empty.unmeasured_commits == 1 and not empty.dropped


def test_window_against_its_baseline():
    window = [_health("a" * 40, "src/x.py", 60, 60)]  # DMM 0.5 on its own: no absolute drop
    assert not window_health(window).dropped
    healthy_before = [_health("b" * 40, "src/y.py", 200, 10)]
    judged = window_health([_health("a" * 40, "src/x.py", 45, 60)], baseline=healthy_before)
    assert judged.dropped and judged.baseline_dmm == pytest.approx(200 / 210) and "before" in judged.reason
    # a project whose normal change already grows long methods is judged against its own normal
    risky_before = [_health("c" * 40, "src/z.py", 20, 100)]
    assert not window_health([_health("a" * 40, "src/x.py", 20, 90)], baseline=risky_before).dropped
    assert window_health([_health("a" * 40, "src/x.py", 20, 90)]).dropped  # without a baseline it is a drop


# ---------------------------------------------------------------- the hot path


def test_report_hot_path_imports_neither_pydriller_nor_gitpython():
    # the modules of the brief (those that still exist after the app/ + cli/ restructuring) and every
    # module of the report's path: git/ (code_health included: its heavy imports are lazy), app/, cli/, report/
    named = ["narrator.report.build", "narrator.git.walker", "narrator.cli", "narrator.git.code_health"]
    code = textwrap.dedent(f"""
        import importlib, importlib.util, pkgutil, sys
        import narrator
        names = [m for m in {named!r} if importlib.util.find_spec(m) is not None]
        for package in ("narrator.git", "narrator.app", "narrator.cli", "narrator.report"):
            if importlib.util.find_spec(package) is not None:
                mod = importlib.import_module(package)
                names += [info.name for info in pkgutil.walk_packages(mod.__path__, package + ".")]
        for name in names:
            importlib.import_module(name)
        heavy = sorted(n for n in sys.modules if n.split(".")[0] in ("pydriller", "git", "gitdb", "lizard"))
        print(len(names), ",".join(heavy))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    count, heavy = proc.stdout.strip().split(" ", 1) if " " in proc.stdout.strip() else (proc.stdout.strip(), "")
    assert int(count) >= 10 and heavy == ""
