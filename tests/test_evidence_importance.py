"""narrator.evidence.commit/importance/themes/describe: evidence -> score, reasons, themes, best text."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from narrator.evidence.changelog import ChangelogEntry
from narrator.evidence.commit import gather
from narrator.evidence.describe import describe
from narrator.evidence.importance import TIERS, explain, score
from narrator.evidence.patch import parse_patch
from narrator.evidence.themes import themes


@dataclass(frozen=True)
class Stat:
    """A file as narrator.git.facts.FileChange describes it: path and line counts only."""

    path: str
    added: int = 1
    deleted: int = 0


def entry(text: str, kind: str | None = None, source: str = "changelog", section: str | None = None,
          refs: tuple[str, ...] = (), breaking: bool = False) -> ChangelogEntry:
    return ChangelogEntry("CHANGES.rst", 1, text, text, kind, "section" if kind else None, section, "3.2.0", refs,
                          breaking, source)


def patches(tmp_path: Path, before: dict[str, str], after: dict[str, str]):
    repo = tmp_path / "r"
    repo.mkdir(exist_ok=True)

    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", *a], check=True,
                              capture_output=True).stdout.decode()

    git("init", "-q")
    for rel, content in before.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(content)
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", "before")
    for rel, content in after.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(content)
    git("add", "-A")
    return parse_patch(git("diff", "--cached"))


def test_gather_reads_entries_signals_and_kinds(tmp_path):
    before = {"src/app/helpers.py": "def redirect(location, code=302):\n    return code\n",
              "CHANGES.rst": "Version 3.2.0\n-------------\n\nUnreleased\n\n-   Old.\n",
              "tests/test_helpers.py": "def test_x():\n    pass\n"}
    after = {"src/app/helpers.py": "def redirect(location, code=303):\n    return code\n",
             "CHANGES.rst": before["CHANGES.rst"].replace("-   Old.\n", "-   Old.\n-   ``redirect`` returns ``303`` "
                                                          "by default instead of ``302``. :issue:`5895`\n"),
             "tests/test_helpers.py": "def test_x():\n    assert True\n"}
    files = patches(tmp_path, before, after)
    evidence = gather("abc", "redirect defaults to 303", "", files, category="Features",
                      texts_after={"CHANGES.rst": after["CHANGES.rst"]})
    assert evidence.kind_counts == {"source": 1, "changelog": 1, "test": 1}
    assert evidence.source_churn == 2 and evidence.tests_touched
    (e,) = evidence.entries
    assert (e.kind, e.version, e.refs) == ("change", "3.2.0", ("#5895",))
    assert [(s.kind, s.name, s.detail) for s in evidence.signals] == [("default_changed", "redirect(code)", "302 -> 303")]
    result = score(evidence)
    assert result.tier == "behaviour"
    assert result.reasons[0].startswith("changelog says behaviour change: \u201credirect returns 303")
    assert "default changed: redirect(code) 302 -> 303 (src/app/helpers.py:1)" in result.reasons
    assert "tests updated" in result.reasons and explain(evidence) == result.reasons


def test_tiers_order_security_behaviour_feature_fix_docs_upkeep():
    src = [Stat("src/app/core.py", 20, 5)]
    cases = {
        "security": gather("s1", "Merge commit from fork", "", src),
        "behaviour": gather("b1", "Remove old API", "", src, entries=[entry("The X API is removed.", "removal")]),
        "feature": gather("f1", "Add export", "", src, entries=[entry("Added export.", "feature")]),
        "notable": gather("n1", "teardown", "", src, entries=[entry("All teardown callbacks are called.")]),
        "fix": gather("x1", "Fix crash", "", src, entries=[entry("Fixed a crash.", "bugfix")]),
        "performance": gather("p1", "Speed up", "", src, category="Performance"),
        "code": gather("c1", "tweak internals", "", src),
        "docs": gather("d1", "document gevent", "", [Stat("docs/async.rst", 30)], category="Documentation"),
        "refactor": gather("r1", "reorganise", "", src, category="Refactoring"),
        "tests": gather("t1", "more tests", "", [Stat("tests/test_a.py", 40)], category="Tests"),
        "upkeep": gather("u1", "pre-commit: Add codespell", "", [Stat(".pre-commit-config.yaml", 4)],
                         category="Build & CI"),
    }
    results = {name: score(ev) for name, ev in cases.items()}
    assert {name: r.tier for name, r in results.items()} == {name: name for name in cases}
    order = sorted(results, key=lambda n: -results[n].value)
    assert order[:3] == ["security", "behaviour", "feature"]
    assert order[-1] == "upkeep"
    assert all(results[n].value > results["upkeep"].value + 20 for n in cases if n not in ("upkeep", "tests"))


def test_entry_beats_no_entry_within_adjacent_tiers_but_not_across_the_top():
    src = [Stat("src/app/core.py", 10, 2)]
    fix_with_entry = score(gather("a", "Fix crash", "", src, entries=[entry("Fixed a crash.", "bugfix")]))
    feature_without = score(gather("b", "Add thing", "", src, category="Features"))
    assert fix_with_entry.value > feature_without.value
    huge_feature = score(gather("c", "Add big thing", "", [Stat("src/a.py", 5000, 3000), Stat("tests/t.py", 50)],
                                entries=[entry("Added a big thing.", "feature")]))
    small_behaviour = score(gather("d", "Change default", "", [Stat("src/a.py", 1, 1)],
                                   entries=[entry("Now defaults to 303.", "change")]))
    assert small_behaviour.value > huge_feature.value


def test_noise_never_outranks_real_work_and_bots_branch_syncs_are_upkeep():
    tooling = score(gather("t", "update dev dependencies", "", [Stat("uv.lock", 900, 800),
                                                               Stat("requirements/dev.txt", 20, 20)],
                           category="Dependencies"))
    minified = score(gather("m", "rebuild", "", [Stat("dist/lodash.min.js", 5000, 5000)]))
    docs = score(gather("d", "clarify docs", "", [Stat("docs/api.rst", 3, 1)], category="Documentation"))
    assert tooling.tier == "upkeep" and minified.tier == "upkeep"
    assert docs.value > tooling.value and docs.value > minified.value
    bot = score(gather("b", "Bump x from 1 to 2", "", [Stat("src/a.py", 400)], is_bot=True,
                       entries=[entry("Fixed.", "bugfix")]))
    assert (bot.tier, bot.value) == ("upkeep", TIERS["upkeep"])
    sync = score(gather("s", "Merge branch 'stable'", "", [Stat("src/a.py", 80)], is_merge=True,
                        entries=[entry("Security fix GHSA-68rp-wp8r-4726", "security", refs=("GHSA-68rp-wp8r-4726",))]))
    assert sync.tier == "upkeep"


def test_release_notes_commit_is_not_the_work():
    ev = gather("r", "Update changelog", "", [Stat("CHANGELOG.md", 8)],
                entries=[entry("Security: Hardened output filtering", "security"), entry("Fixed audit", "bugfix")])
    result = score(ev)
    assert result.tier == "docs" and "release notes (2 entries" in result.reasons[0]


def test_release_commit_bumping_a_version_constant_is_still_release_notes():
    ev = gather("v", "Changelog for v5.1.1 (#2965)", "", [Stat("CHANGELOG.md", 18), Stat("version.go", 1, 1)],
                entries=[entry("Context.Scheme() should validate values", "security"), entry("Add linter", "feature")])
    assert score(ev).tier == "docs"
    one_fix = gather("f", "Fix scheme", "", [Stat("CHANGELOG.md", 1), Stat("context.go", 1, 1)],
                     entries=[entry("Fixed scheme handling", "bugfix")])
    assert score(one_fix).tier == "fix"  # one entry with its own small code change is the work itself


def test_weak_security_wording_bonus_keeps_tier():
    plain = score(gather("a", "Sanitize bin paths", "", [Stat("src/a.py", 10)], category="Fixes"))
    worded = score(gather("b", "Sanitize bin paths", "Someone could try a path traversal here.",
                          [Stat("src/a.py", 10)], category="Fixes"))
    assert worded.tier == plain.tier == "fix" and worded.value == plain.value + 8
    assert any("path traversal" in r for r in worded.reasons)


def test_a_fix_whose_subject_names_the_vulnerability_is_a_security_fix():
    # lodash: "Prevent prototype pollution on baseUnset function" (CVE-2025-13465, no id in the commit)
    named = score(gather("b", "Prevent path traversal in bin paths", "", [Stat("src/a.py", 10)], category="Fixes"))
    assert named.tier == "security" and "path traversal" in named.reasons[0]
    feature = score(gather("c", "Add an --insecure flag", "", [Stat("src/a.py", 10)], category="Features"))
    assert feature.tier != "security"  # naming a risk is not closing one
    docs = score(gather("d", "Fix XSS in the docs site", "", [Stat("docs/index.md", 10)], category="Fixes"))
    assert docs.tier != "security"  # nothing users run changed


def test_themes_group_related_work():
    filter_subjects = [
        "FilterList: block malware packages during install (#1)", "FilterLists: add policy config support (#2)",
        "FilterList: add ignore-source for malware list (#3)", "FilterLists: adjust parsing of lists (#4)",
        "FilterList: fix reason output once per version (#5)", "FilterLists: add api-url support (#6)",
        "FilterList: assert malware blocking during partial updates (#7)", "FilterLists: summary-url support (#8)",
    ]
    other = ["Fix phar creation", "Update Twitter links to X.com in README", "Bump actions/stale from 1 to 2",
             "Relax token validation on input", "Fix regexp for GitHub tokens format", "Add timestamps to output",
             "Sanitize proxy credentials in output", "Hide proxy credentials in verbose logs",
             "Redact proxy credentials in errors", "Fix issues checking URLs with uppercase schemes"]
    evs = [gather(f"f{k}", s, "", [Stat(f"src/FilterList/Part{k}.php", 10)]) for k, s in enumerate(filter_subjects)]
    evs += [gather(f"o{k}", s, "", [Stat(f"src/Other{k}.php", 5)]) for k, s in enumerate(other)]
    found = themes(evs)
    first = found[0]
    assert set(first.shas) == {f"f{k}" for k in range(len(filter_subjects))}
    assert first.words[0] == "FilterList" and first.size == 8
    assert all(not set(t.shas) & set(first.shas) for t in found[1:])
    (url,) = [t for t in found if {"o6", "o7", "o8"} <= set(t.shas)]
    assert set(url.shas) == {"o6", "o7", "o8"} and set(url.words[:2]) == {"proxy", "credentials"}
    assert themes(evs[:2]) == ()
    # judging hands over the scores it worked out; the themes are the same
    assert themes(evs, scores={e.sha: score(e).value for e in evs}) == found
    # with groups of one allowed, every commit is in exactly one theme
    singles = themes(evs, min_size=1)
    assert sorted(sha for t in singles for sha in t.shas) == sorted(e.sha for e in evs)
    assert [t for t in singles if t.size >= 3] == list(found)


def test_describe_prefers_human_text_and_keeps_tokens():
    changelog = entry("The should_ignore_error is deprecated.", "deprecation")
    fragment = entry("Deprecate should_ignore_error.", "deprecation", source="fragment")
    assert describe("deprecate `should_ignore_error` (#5899)", "", [fragment, changelog]).text == \
        "The should_ignore_error is deprecated."
    assert describe("x", "", [fragment]).source == "fragment"
    merge = describe("Merge pull request #12885 from Seldaek/source-fallback-disable",
                     "Disable `source-fallback` by default, mark it deprecated", is_merge=True)
    assert (merge.text, merge.source, merge.refs) == ("Disable source-fallback by default, mark it deprecated",
                                                      "pr_title", ("#12885",))
    squash = describe("fix(cli): keep --no-deps and docs/results.md (#12)")
    assert squash.text == "keep --no-deps and docs/results.md" and squash.source == "pr_title"
    terse = describe("fix typing", "The config.audit.* keys were typed as str.\n\nSigned-off-by: A <a@b>")
    assert terse.text == "fix typing. The config.audit.* keys were typed as str."
    assert describe("redirect defaults to 303").text == "redirect defaults to 303"  # no re-casing of a name


def test_describe_says_an_entry_written_in_two_changelogs_once():
    # jekyll keeps History.markdown and docs/_docs/history.md; both hold the entry, one says more
    a = entry("Add json as runtime_dependency")
    b = entry("Add gem json as runtime_dependency")
    c = entry("Add Ruby 3.4 to CI matrix")
    assert describe("x", "", [a, b, c]).text == "Add json as runtime_dependency. Add Ruby 3.4 to CI matrix."


def test_describe_completes_an_entry_github_cut_short_from_the_commits_title():
    e = entry("Revert back to v4 behavior for group registering implicit 404 handler\u2026")
    subject = "Revert back to v4 behavior for group registering implicit 404 handlers. This will fix: CORS"
    assert describe(subject, "", [e]).text == "Revert back to v4 behavior for group registering implicit 404 handlers"
    other = entry("Support the QUERY method\u2026")
    assert describe("Add HEAD handling", "", [other]).text == "Support the QUERY method\u2026"


def test_theme_words_keep_each_commit_s_input_compactly_and_in_order():
    """``ThemeWords`` (what judging keeps of each commit for the themes): every commit's words (its prefix words
    last) and surface forms come back in their order, and a long window's store takes
    a few bytes a word, not tuples a commit; theme_groups over it groups the commits that share a prefix."""
    import sys

    from narrator.evidence.themes import ThemeWords, theme_groups, theme_input

    evs = [gather(f"c{k}", f"FilterList: block malware packages in batch {k % 7}", "", [Stat("src/a.php", 3)])
           for k in range(2000)]
    store = ThemeWords()
    for e in evs:
        store.append(theme_input(e))
    for k in (0, 1, 1999):
        words, prefix, forms = theme_input(evs[k])
        assert [store.vocabulary[n] for n in store.words(k)] == [*words, *prefix]
        assert [store.vocabulary[n] for n in store.forms(k)] == list(forms)
    held = sum(sys.getsizeof(a) for a in (store._words, store._word_ends, store._forms, store._form_ends))
    as_tuples = sum(sys.getsizeof(t) for e in evs for t in theme_input(e))
    assert held * 3 < as_tuples
    fresh = ThemeWords()
    for e in evs[:60]:
        fresh.append(theme_input(e))
    (found,) = theme_groups([e.sha for e in evs[:60]], fresh, [score(e).value for e in evs[:60]], {})
    assert (found.name, found.shas) == ("FilterList", tuple(e.sha for e in evs[:60]))  # the author's own prefix
