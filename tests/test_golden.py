"""Golden fixture tests (git-cliff style): a pinned script builds a repository, narrate runs on it, and the
output must equal the frozen expected files byte for byte.

Each ``tests/golden/<scenario>/`` holds ``build.sh`` (builds the repository), ``args`` (narrate's arguments,
one per line) and the expected outputs; see ``tests/golden/README.md``. Every scenario runs twice per output,
with a cold cache and then with the warm one, and both runs must give the frozen text.

Refresh on purpose (then review the diff and explain it in the commit message):
``NARRATOR_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import time
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
# Read at import: the autouse ``isolated_env`` fixture (conftest.py) drops NARRATOR_* variables before each test.
UPDATE = os.environ.get("NARRATOR_UPDATE_GOLDEN", "") not in ("", "0")
NOW = "1773835200"  # SOURCE_DATE_EPOCH: Wednesday 18 March 2026 12:00 UTC, "now" for every scenario
REPORT_FORMATS = ("md", "json", "html")  # expected.<format> = stdout of `narrate <args> --format <format>`
REQUIRED_FORMATS = ("md", "json")  # every report or commit scenario; html where expected.html exists
OUT_PLACEHOLDER = "{out}"  # in args: a fresh output directory; its files are compared with expected.out/
MANIFEST = ".narrator-digests.json"


# -- the one way the CLI is called ----------------------------------------------------------------------

def run_narrate(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, str]:
    """Run ``narrate ARGS`` in-process (click's CliRunner) in ``cwd`` with exactly ``env`` for NARRATOR_*,
    TZ and friends; return (exit code, stdout). Stderr is printed, so pytest shows it when a test fails."""
    from click.testing import CliRunner

    from narrator.cli import cli

    with _environment(env), _working_directory(cwd):
        result = CliRunner().invoke(cli, list(args), prog_name="narrate")
    if result.stderr:
        print(f"narrate {' '.join(args)}: stderr:\n{result.stderr}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        print(f"narrate {' '.join(args)}: {type(result.exception).__name__}: {result.exception}")
    return result.exit_code, result.stdout


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ with every NARRATOR_* variable removed and ``env`` set; TZ applied to the C library too."""
    saved = dict(os.environ)
    try:
        for name in [n for n in os.environ if n.startswith("NARRATOR_")]:
            del os.environ[name]
        os.environ.update(env)
        time.tzset()  # "local" time (datetime.now().astimezone()) follows TZ only after tzset
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        time.tzset()


@contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def pinned_env(cache_dir: Path, home: Path) -> dict[str, str]:
    """Everything that could differ between machines or runs, pinned."""
    return {
        "TZ": "UTC",
        "LC_ALL": "C.UTF-8",
        "SOURCE_DATE_EPOCH": NOW,  # "now": the default window's end, generated_at, the digest's current week
        "NARRATOR_CACHE_DIR": str(cache_dir),
        "NARRATOR_CONFIG_FILE": str(home / "no-user-config.toml"),  # does not exist: no user settings
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }


# -- scenarios --------------------------------------------------------------------------------------------

def _scenarios() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "build.sh").is_file())


def _args(scenario: str) -> list[str]:
    text = (GOLDEN / scenario / "args").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def _cases() -> list[tuple[str, str]]:
    """(scenario, output): one report format, or "out" for a scenario that writes a directory (digests)."""
    cases = []
    for scenario in _scenarios():
        if OUT_PLACEHOLDER in _args(scenario):
            cases.append((scenario, "out"))
            continue
        cases.extend((scenario, f) for f in REPORT_FORMATS
                     if f in REQUIRED_FORMATS or (GOLDEN / scenario / f"expected.{f}").is_file())
    return cases


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Iterator:
    """Builds each scenario's repository once per module, in a directory named after the scenario."""
    repos: dict[str, Path] = {}

    def build(scenario: str) -> Path:
        if scenario not in repos:
            root = tmp_path_factory.mktemp("golden-repos")
            repo = root / scenario
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root)}
            proc = subprocess.run(["sh", str(GOLDEN / scenario / "build.sh"), str(repo)], env=env,
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, f"{scenario}/build.sh failed:\n{proc.stdout}{proc.stderr}"
            repos[scenario] = repo
        return repos[scenario]

    yield build


# -- comparison -------------------------------------------------------------------------------------------

def _visible(line: str) -> str:
    """Control and bidi characters shown as escapes, so a diff never drives the terminal."""
    return "".join(ch if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf") else ascii(ch)[1:-1]
                   for ch in line)


def _diff(expected: str, actual: str, name: str) -> str:
    if name.endswith(".json"):  # one long line: compare the pretty-printed forms to see where they differ
        try:
            pretty = [json.dumps(json.loads(t), indent=1, ensure_ascii=False) + "\n" for t in (expected, actual)]
        except ValueError:
            pretty = []
        if pretty and pretty[0] != pretty[1]:
            expected, actual = pretty
            name += " (pretty-printed for the diff)"
    lines = difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                 f"expected {name}", f"actual {name}", n=2)
    return "".join(_visible(line) for line in lines)


def _compare(expected_file: Path, actual: str, run: str, *, write: bool) -> None:
    """``actual`` must equal the file byte for byte; with ``write`` (refresh, cold run) the file is rewritten."""
    if write:
        expected_file.parent.mkdir(parents=True, exist_ok=True)
        expected_file.write_bytes(actual.encode("utf-8"))
        return
    rel = expected_file.relative_to(GOLDEN)
    if not expected_file.is_file():
        pytest.fail(f"{rel} is missing; create it with NARRATOR_UPDATE_GOLDEN=1 python -m pytest "
                    "tests/test_golden.py, then review it", pytrace=False)
    expected = expected_file.read_bytes().decode("utf-8")
    if actual != expected:
        pytest.fail(f"{run}: output differs from {rel} (if the change is intended, refresh with "
                    f"NARRATOR_UPDATE_GOLDEN=1 and explain it in the commit message)\n"
                    + _diff(expected, actual, str(rel)), pytrace=False)


# Fields that differ between a cold and a warm run today. Each is checked, then set back to the cold run's
# value, and the rest of the warm output must match the frozen file byte for byte.
# 1. By design: the JSON report counts the narrations read from the cache (narrator/app/session.py:143,
#    stats["cached"] = len(found)); the warm run must read every one of them from the cache.
_CACHED = re.compile(r'"narrations":\{"cached":(\d+),"model":(\d+),"heuristic":(\d+),"fallback":(\d+)[,}]')
# 2. A drift, reported, not hidden: `narrate commit --format json` shows narration.basis "" when the sentence
#    was just written and the classification digest when it comes from the cache, because only the copy
#    stored in the cache is stamped (narrator/app/session.py:145-150 `stamped`, used by `store`), while the
#    fresh narrations are returned unstamped (session.py:170, likewise the refreshed ones at :158).
_BASIS = re.compile(r'"basis": "([0-9a-f]*)"')


def _warm_as_cold(warm: str, cold: str) -> str:
    match = _CACHED.search(warm)
    if match:
        cached, model, heuristic, fallback = map(int, match.groups())
        assert cached == model + heuristic + fallback, \
            f"the warm run read {cached} of {model + heuristic + fallback} narrations from the cache"
        cold_match = _CACHED.search(cold)
        if cold_match:
            warm = warm[:match.start(1)] + cold_match.group(1) + warm[match.end(1):]
    cold_bases = _BASIS.findall(cold)
    if cold_bases and len(cold_bases) == len(_BASIS.findall(warm)):
        values = iter(cold_bases)
        warm = _BASIS.sub(lambda m: f'"basis": "{next(values)}"', warm)
    return warm


def _read_tree(root: Path) -> dict[str, str]:
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8")
        if path.name == MANIFEST:
            # The repository key is a hash of the repository's absolute path (the cache key, narrator/git/
            # walker.py Repository.open): it differs for every temporary directory, so it is masked.
            text = re.sub(r'("repository_key": )"[0-9a-f]+"', r'\1"{repository_key}"', text)
        files[path.relative_to(root).as_posix()] = text
    return files


# -- the tests ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario, output", _cases(), ids=[f"{s}-{o}" for s, o in _cases()])
def test_golden(scenario: str, output: str, built, tmp_path: Path) -> None:
    repo = built(scenario)
    cache = tmp_path / "cache"
    env = pinned_env(cache, tmp_path)
    folder = GOLDEN / scenario
    cold = ""
    for run in ("cold cache", "warm cache"):
        write = UPDATE and run == "cold cache"
        if output == "out":
            out = tmp_path / ("out-" + run.split()[0])
            args = [str(out) if a == OUT_PLACEHOLDER else a for a in _args(scenario)]
            code, stdout = run_narrate(args, repo, env)
            assert code == 0, f"{scenario} ({run}): narrate {' '.join(args)} exited {code}\n{stdout}"
            _compare(folder / "expected.stdout", stdout.replace(str(out), OUT_PLACEHOLDER), run, write=write)
            actual = _read_tree(out)
            if write:
                shutil.rmtree(folder / "expected.out", ignore_errors=True)
            else:
                expected_dir = folder / "expected.out"
                expected_names = set(_read_tree(expected_dir)) if expected_dir.is_dir() else set()
                if set(actual) != expected_names:
                    pytest.fail(f"{run}: the files written differ from {expected_dir.relative_to(GOLDEN)}/: "
                                f"missing {sorted(expected_names - set(actual))}, "
                                f"unexpected {sorted(set(actual) - expected_names)}", pytrace=False)
            for name, text in actual.items():
                _compare(folder / "expected.out" / name, text, run, write=write)
        else:
            args = [*_args(scenario), "--format", output]
            code, stdout = run_narrate(args, repo, env)
            assert code == 0, f"{scenario} ({run}): narrate {' '.join(args)} exited {code}\n{stdout}"
            if output == "json":
                cold, stdout = (stdout, stdout) if run == "cold cache" else (cold, _warm_as_cold(stdout, cold))
            _compare(folder / f"expected.{output}", stdout, run, write=write)
    assert any(cache.glob("*")), "the runs did not use the cache directory they were given"


_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def test_frozen_outputs_stay_inert() -> None:
    """A refresh must not freeze live control characters or markup from commit text into the expected files."""
    frozen = [p for p in GOLDEN.rglob("expected*") if p.is_file()]
    assert frozen, "no expected files under tests/golden"
    for path in frozen:
        text = path.read_bytes().decode("utf-8")
        found = _INVISIBLE.search(text)
        assert found is None, f"{path.relative_to(GOLDEN)} holds a raw control character {found.group()!r}"
        if path.suffix == ".html":
            for raw in ("<script>alert", "<img src=x", "<h1>everything", "javascript:alert(1)\""):
                assert raw not in text, f"{path.relative_to(GOLDEN)} holds unescaped commit text {raw!r}"


@pytest.mark.parametrize("scenario, output", _cases(), ids=[f"{s}-{o}" for s, o in _cases()])
def test_golden_with_entries_on_disk(scenario: str, output: str, built, tmp_path: Path, monkeypatch) -> None:
    """The same frozen outputs when every report keeps its commit entries on disk (``narrator.report.spill``,
    used from ``SPILL_FROM`` commits on), byte for byte."""
    if UPDATE:
        pytest.skip("refreshing the frozen files")
    from narrator.report import aggregate

    monkeypatch.setattr(aggregate, "SPILL_FROM", 0)
    test_golden(scenario, output, built, tmp_path)


@pytest.mark.parametrize("scenario, output", _cases(), ids=[f"{s}-{o}" for s, o in _cases()])
def test_golden_with_one_item_best_lists(scenario: str, output: str, built, tmp_path: Path, monkeypatch) -> None:
    """The same frozen outputs when the highlights and the areas' topics are chosen from best-lists of one item
    (``narrator.report.aggregate``): every choice that runs out of its list is made again from every commit."""
    if UPDATE:
        pytest.skip("refreshing the frozen files")
    from narrator.report import aggregate

    monkeypatch.setattr(aggregate, "_HIGHLIGHT_BEST", 1)
    monkeypatch.setattr(aggregate, "_TOPIC_BEST", 1)
    test_golden(scenario, output, built, tmp_path)
