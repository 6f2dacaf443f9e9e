"""Classification rules, areas, the heuristic engine's sentences, and --since/--until parsing."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from narrator.engines.heuristic import HeuristicEngine, narrate_commit
from narrator.engines.base import NarrationRequest
from narrator.errors import ConfigError, TimeSpecError
from narrator.git.bots import bot_matcher
from narrator.git.classify import Classifier, parse_conventional
from narrator.git.facts import ChangeType, CommitFacts, FileChange, Person
from narrator.timespec import check_window, parse_when

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def facts(subject: str, paths=("src/app/core.py",), body: str = "", parents=("p",), added=10, deleted=2,
          change=ChangeType.MODIFIED, author=Person("Ada", "ada@example.com")) -> CommitFacts:
    from narrator.git.walker import language_of

    files = tuple(FileChange(p, change, None, language_of(p), added, deleted) for p in paths)
    return CommitFacts(sha="a" * 40, parents=tuple(parents), author=author, committer=author, authored_at=NOW,
                       committed_at=NOW, subject=subject, body=body, files=files, is_merge=len(parents) > 1,
                       is_revert=subject.lower().startswith("revert"))


@pytest.mark.parametrize("subject, paths, expected", [
    ("feat(api): add export endpoint", ("src/app/api.py",), "Features"),
    ("fix!: crash on empty input", ("src/app/api.py",), "Fixes"),
    ("perf: cache parsed templates", ("src/app/t.py",), "Performance"),
    ("refactor: split module", ("src/app/t.py",), "Refactoring"),
    ("docs: explain setup", ("docs/setup.md",), "Documentation"),
    ("chore(deps): bump requests from 2.31 to 2.32", ("requirements.txt",), "Dependencies"),
    ("ci: run tests on 3.13", (".github/workflows/ci.yml",), "Build & CI"),
    ("Update README", ("README.md",), "Documentation"),
    ("Add tests for parser", ("tests/test_parser.py",), "Tests"),
    ("Bump lodash from 4.17.20 to 4.17.21", ("package.json", "package-lock.json"), "Dependencies"),
    ("Fix typo in error message", ("src/app/errors.py",), "Fixes"),
    ("Speed up the importer", ("src/app/importer.py",), "Performance"),
    ("Add dark mode", ("src/app/theme.py",), "Features"),
    ("Rename helper", ("src/app/helpers.py",), "Refactoring"),
    ('Revert "Add dark mode"', ("src/app/theme.py",), "Reverts"),
    ("wip", ("notes.txt",), "Documentation"),
    ("misc", ("src/app/x.py",), "Chores"),
])
def test_categories(subject, paths, expected):
    assert Classifier().classify(facts(subject, paths)).category == expected


def test_conventional_parsing_and_breaking():
    cc = parse_conventional("feat(ui)!: new layout")
    assert cc and cc.type == "feat" and cc.scope == "ui" and cc.breaking and cc.description == "new layout"
    assert parse_conventional("Add layout") is None
    cl = Classifier().classify(facts("feat(ui)!: new layout"))
    assert cl.breaking and cl.scope == "ui" and cl.description == "new layout"
    assert Classifier().classify(facts("Change API", body="BREAKING CHANGE: old calls fail")).breaking


def test_user_rules_win_and_are_validated():
    rules = [{"name": "security", "category": "Fixes", "subject": r"\bCVE-\d+"}]
    assert Classifier(rules).classify(facts("Add guard for CVE-2026-1")).category == "Fixes"
    with pytest.raises(ConfigError, match="needs a 'category'"):
        Classifier([{"subject": "x"}])
    with pytest.raises(ConfigError, match="unknown keys"):
        Classifier([{"category": "Fixes", "colour": "red"}])
    with pytest.raises(ConfigError, match="invalid subject regex"):
        Classifier([{"category": "Fixes", "subject": "("}])


def test_areas():
    c = Classifier(areas={"src/app/api/**": "Public API"})
    assert c.area_of("src/app/api/v1/users.py") == "Public API"
    assert c.area_of("src/app/core.py") == "src/app"
    assert c.area_of("packages/ui/button.tsx") == "packages/ui"
    assert c.area_of("server/main.go") == "server"
    assert c.area_of("docs/index.md") == "documentation"
    assert c.area_of("CHANGES.rst") == "documentation"
    assert c.area_of("tests/test_x.py") == "tests"
    assert c.area_of(".github/workflows/ci.yml") == "build, tooling and dependencies"
    assert c.area_of("pyproject.toml") == "build, tooling and dependencies"
    assert c.area_of("main.py") == "project root"


def test_bots():
    is_bot = bot_matcher(["*[bot]*", "dependabot*", "renovate*", "github-actions*"])
    assert is_bot(Person("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"))
    assert is_bot(Person("renovate-bot", "bot@renovateapp.com"))
    assert is_bot(Person("github-actions", "41898282+github-actions[bot]@users.noreply.github.com"))
    assert not is_bot(Person("Bob", "bob@example.com"))
    assert not is_bot(Person("Abbot", "abbot@example.com"))


@pytest.mark.parametrize("subject, expected", [
    ("feat(api): add export endpoint (#123)", "Added export endpoint"),
    ("fix: handle empty input", "Handled empty input"),
    ("[JIRA-12] Update deps", "Updated dependencies"),
    ("Refactor config loader [skip ci]", "Reorganised configuration loader"),
    ("fix: block prototype pollution in baseUnset", "Blocked prototype pollution in baseUnset"),
    ("fix(middleware): match gzip Content-Encoding case-insensitively", "Matched gzip Content-Encoding"),
])
def test_heuristic_sentences(subject, expected):
    cl = Classifier().classify(facts(subject))
    text = narrate_commit(facts(subject), cl)
    assert text.startswith(expected)
    assert text.endswith(".")
    assert "src/app" in text


def test_heuristic_merges_and_reverts():
    merge = facts("Merge pull request #42 from ada/feature", parents=("a", "b"), body="Add export\n")
    assert narrate_commit(merge, Classifier().classify(merge)) == \
        "Merged contribution #42 (\u201cAdd export\u201d), from ada/feature."
    revert = facts('Revert "Add dark mode"')
    assert narrate_commit(revert, Classifier().classify(revert)) == "Undid an earlier change: \u201cAdd dark mode\u201d."
    named = replace(facts("revert cli test change"), is_revert=True)  # flask, 12 February 2026
    assert narrate_commit(named, Classifier().classify(named)) == "Undid the cli test change."
    empty = facts("...", paths=("docs/a.md", "docs/b.md"))
    assert narrate_commit(empty, Classifier().classify(empty)) == "Changed documentation (2 files) in the documentation."


_WORDS = ["add", "fix", "update", "remove", "refactor", "docs", "tests", "parser", "api", "login", "v2", "42",
          "crash", "bump", "x", "Merge", "Revert", "config", "deps", "#12", "(#7)", "[skip ci]", "feat:", "fix(ui):"]


def test_heuristic_never_invents_numbers_or_paths():
    """Every number and path-like token in a narration exists in the commit's facts."""
    import random

    rng = random.Random(7)
    classifier = Classifier()
    for _ in range(500):
        subject = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 7)))
        paths = tuple(rng.choice(["src/app/a.py", "docs/x.md", "tests/t.py", "lib/core/b.js", "README.md", "Makefile"])
                      for _ in range(rng.randint(0, 4)))
        commit = facts(subject, tuple(dict.fromkeys(paths)), parents=("p",) if rng.random() < 0.8 else ("p", "q"))
        cl = classifier.classify(commit)
        text = narrate_commit(commit, cl)
        # Counts the engine may state: files, and areas beyond the two it names.
        source = " ".join([commit.subject, commit.body, *(f.path for f in commit.files),
                           str(len(commit.files)), str(len(cl.areas) - 2)])
        for number in re.findall(r"\d+", text):
            assert number in source, (text, source)
        for token in re.findall(r"[\w.-]*\w/[\w./-]*\w", text):
            assert any(token in f.path for f in commit.files) or token in source, (text, source)


def test_heuristic_engine_contract():
    commit = facts("Add export")
    engine = HeuristicEngine({})
    out = engine.narrate([NarrationRequest(commit, Classifier().classify(commit))])
    assert out[0].sha == commit.sha and out[0].source == "heuristic" and out[0].engine == "heuristic"
    assert engine.fingerprint().startswith("heuristic/")


@pytest.mark.parametrize("text, expected", [
    ("2w", datetime(2026, 11, 9, 12, 0, tzinfo=timezone.utc)),
    ("10d", datetime(2026, 11, 13, 12, 0, tzinfo=timezone.utc)),
    ("36h", datetime(2026, 11, 22, 0, 0, tzinfo=timezone.utc)),
    ("yesterday", datetime(2026, 11, 22, 0, 0, tzinfo=timezone.utc)),
    ("last monday", datetime(2026, 11, 16, 0, 0, tzinfo=timezone.utc)),
    ("2026-11-01", datetime(2026, 11, 1, 0, 0, tzinfo=timezone.utc)),
    ("2026-11-01T09:30", datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)),
    ("2026-11-01 09:30:00+02:00", datetime(2026, 11, 1, 7, 30, tzinfo=timezone.utc)),
    ("3mo", datetime(2026, 8, 23, 12, 0, tzinfo=timezone.utc)),
])
def test_timespec(text, expected):
    assert parse_when(text, now=NOW, tz=timezone.utc) == expected


def test_timespec_until_is_inclusive_and_errors():
    end = parse_when("2026-11-01", edge="until", now=NOW, tz=timezone.utc)
    assert end.hour == 23 and end.minute == 59
    for bad in ("", "soon", "2026-13-45", "last funday", "99999999y"):
        with pytest.raises(TimeSpecError):
            parse_when(bad, now=NOW, tz=timezone.utc)
    with pytest.raises(TimeSpecError, match="after --until"):
        check_window(parse_when("1d", now=NOW, tz=timezone.utc), parse_when("2w", now=NOW, tz=timezone.utc))


@pytest.mark.parametrize("subject, expected", [
    ("BUG: fix overflow in i0", "Fixes"), ("ENH: add descending sort", "Features"), ("MAINT: tidy imports", "Chores"),
    ("DOC: explain dtype", "Documentation"), ("TST: cover edge case", "Tests"), ("BLD: pin meson", "Build & CI"),
    ("DEP: deprecate alias", "Features"), ("REV: undo change", "Reverts"),
])
def test_numpy_style_prefixes(subject, expected):
    assert Classifier().classify(facts(subject)).category == expected


def test_a_root_package_holding_most_source_files_is_split_one_level():
    from narrator.git.classify import root_package

    tree = [f"numpy/{sub}/x{i}.py" for i, sub in enumerate(["_core", "lib", "_core", "ma", "random", "_core"])]
    tree += ["README.md", "docs/index.rst", "tools/ci.sh"]
    plain = Classifier()
    assert root_package(tree, plain) == "numpy"
    split = Classifier(split_areas=["numpy"])
    assert split.classify(facts("Change", ("numpy/_core/x0.py",))).areas == ("numpy/_core",)
    assert split.area_of("numpy/__init__.py") == "numpy"
    mixed = ["api/x.py", "web/y.py", "db/z.py", "api/q.py", "web/r.py"]
    assert root_package(mixed, plain) is None
    assert root_package(["src/pkg/a.py"] * 6, plain) is None  # already a package area (src/<pkg>)
    assert root_package(["numpy/a.py"] * 4, plain) is None  # too few source files to tell


def test_areas_follow_what_a_path_is():
    """Tests inside a module (guice's core/test), Cucumber features, scripts, phpstan configuration and
    vendored copies are tests and tooling, wherever they sit; a generated copy rebuilt with its source
    (lodash's dist/lodash.js with lodash.js) is not where the work went."""
    c = Classifier(project="lodash")
    assert c.area_of("core/test/com/google/inject/InjectorTest.java") == "tests"
    assert c.area_of("features/step_definitions/jekyll_steps.rb") == "tests"
    assert c.area_of("script/cibuild") == "build, tooling and dependencies"
    assert c.area_of("phpstan/baseline.neon") == "build, tooling and dependencies"
    assert c.area_of("third_party/jsr305/Nullable.java") == "build, tooling and dependencies"
    assert c.areas_of(["lodash.js", "dist/lodash.js", "test/test.js"]) == ("lodash core", "tests")
    assert c.areas_of(["dist/lodash.js"]) == ("build, tooling and dependencies",)
    assert Classifier(areas={"dist/**": "Bundles"}).areas_of(["lodash.js", "dist/lodash.js"]) == (
        "Bundles", "project root")  # the user named it: it counts


def test_root_package_is_split_only_when_its_source_spreads_over_sub_packages():
    from narrator.git.classify import root_package

    numpy = [f"numpy/{d}/m{i}.py" for d in ("core", "linalg", "fft") for i in range(4)]
    guice = [f"core/src/com/google/inject/C{i}.java" for i in range(12)] + \
        [f"core/test/com/google/inject/C{i}Test.java" for i in range(8)]
    assert root_package(numpy, Classifier()) == "numpy"
    assert root_package(guice, Classifier()) is None  # core/src alone: "core/src" would say nothing


def test_describe_sentence_raises_a_plain_first_word_only():
    from narrator.engines.heuristic import describe_sentence

    assert describe_sentence("don't double-unescape request path") == "Don't double-unescape request path."
    assert describe_sentence("should_ignore_error is deprecated") == "should_ignore_error is deprecated."


def test_heuristic_says_where_in_at_most_two_areas_code_first():
    # lodash: "in dist, the lodash core and 1 other area" said nothing a manager needs
    c = facts("Validate imports keys", paths=("src/app/a.py", "tests/test_a.py", "docs/a.md", "lib/core/b.js"))
    assert narrate_commit(c, Classifier().classify(c)) == "Validated imports keys, in lib/core and src/app."
    only_support = facts("Validate imports keys", paths=("tests/test_a.py", "docs/a.md", "Makefile"))
    assert narrate_commit(only_support, Classifier().classify(only_support)).endswith(
        "in the build and tooling files and the documentation.")


def test_a_model_sentence_is_put_in_the_report_voice():
    """The stand-in writes imperative subjects ("Remove the missing sentinel ...") and gerunds ("Fixing the typing
    issue ..."); the report says what was done, in the past tense, like its other sentences."""
    from narrator.engines.heuristic import reported_speech

    assert reported_speech("Remove the missing sentinel and update the docs.") \
        == "Removed the missing sentinel and update the docs."
    assert reported_speech("Fixing the typing issue in Flask.") == "Fixed the typing issue in Flask."
    assert reported_speech("Stopping the server on exit.") == "Stopped the server on exit."
    for unchanged in ("The session is opened when a request starts.", "Nothing changes here.", "Python 3 now works."):
        assert reported_speech(unchanged) == unchanged


def test_a_subject_that_lists_clauses_is_cut_to_its_first_and_quoting_the_breaking_rule_is_not_breaking():
    """This project's own subjects are changelogs in one line ("A: x; y; z"): a highlight says the first clause.
    Its 1abff37 says "a message saying it is a breaking change is one": a rule, not a breaking change."""
    long = ("Lodash and guice histories: a fix whose subject names the vulnerability it closes is a security fix "
            "(GHSA first; else the newest CVE); a change of comments only in shipped source is documentation; "
            "lint/format/typo fixes are tidying; a message saying it is a breaking change is one; more verbs")
    commit = facts(long)
    cl = Classifier().classify(commit)
    assert not cl.breaking
    assert narrate_commit(commit, cl) == ("Lodash and guice histories: a fix whose subject names the vulnerability it "
                                          "closes is a security fix (GHSA first; else the newest CVE), in src/app.")
    assert Classifier().classify(facts("Change the default port. This is a breaking change.")).breaking
    # 160 characters is the most a highlight says before it is cut (this project's 3 December highlights ran to 220)
    mid = ("Finetune mine: documented functions of Java, JavaScript, PHP, Ruby and Go (lizard boundaries, per-language "
           "doc comments); Java annotations masked for lizard; code-health cap 25")
    assert len(mid) < 240 and narrate_commit(facts(mid), Classifier().classify(facts(mid))) == (
        "Finetune mine: documented functions of Java, JavaScript, PHP, Ruby and Go (lizard boundaries, per-language "
        "doc comments), in src/app.")
    # two sentences under 240 characters stay: the second often says what the change does (jekyll)
    two = ("Many of the gems installed bu just running bundle install are not necessary to test the Jekyll site. "
           "Changed the install command to avoid installing unecessary gems.")
    assert narrate_commit(facts(two), Classifier().classify(facts(two))).startswith(two[:-1])
    short = "Speed up search; cache the index"  # short enough: kept whole
    assert narrate_commit(facts(short), Classifier().classify(facts(short))).startswith("Sped up search; cache")
