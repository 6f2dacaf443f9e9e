"""Judgments on small histories shaped like real ones (composer, jekyll, lodash, echo, guice): what a manager
reads in Highlights and Needs attention, end to end through ``narrate report --format json``."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from tests.conftest import GitRepo, run_narrate

WINDOW = ("--since", "2026-11-01", "--until", "2026-11-30")


def report(repo: GitRepo, *extra: str) -> dict:
    result = run_narrate("report", *WINDOW, "--format", "json", *extra, cwd=repo.path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def markdown(repo: GitRepo, *extra: str) -> str:
    result = run_narrate("report", *WINDOW, "--format", "md", *extra, cwd=repo.path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def by_subject(data: dict) -> dict[str, dict]:
    return {c["subject"]: c for c in data["commits"]}


def attention(data: dict, kind: str) -> list[str]:
    return next((a["items"] for a in data["attention"] if a["kind"] == kind), [])


def test_a_pull_requests_changelog_entry_reaches_the_commit_it_merged(git_repo):
    """composer 2.10.0: "BC Break / Security: Disabled automatic fallback ... (#12885)" cites the pull request,
    whose merge brought in "Disable source-fallback by default ..." and "Add deprecated flag"."""
    repo = git_repo
    command = ("<?php\nclass InstallCommand {\n  protected function configure() {\n    $this->setDefinition([\n"
               "      new InputOption('prefer-dist', null, InputOption::VALUE_NONE, 'Dist'),\n{}    ]);\n  }\n}\n")
    fallback = "      new InputOption('source-fallback', null, InputOption::VALUE_NONE, 'Fall back'),\n"
    repo.commit("Initial", {"src/Downloader.php": "<?php\nclass Downloader {\n  public $fallback = true;\n}\n",
                            "src/Command/InstallCommand.php": command.replace("{}", fallback),
                            "CHANGELOG.md": "### [2.9.0]\n\n  * Older work\n"})
    repo.git("checkout", "-q", "-b", "source-fallback-disable")
    repo.commit("Disable source-fallback by default, mark it deprecated",
                {"src/Downloader.php": "<?php\nclass Downloader {\n  public $fallback = false;\n"
                                       "  public function fetch() { return $this->fallback ? 1 : 2; }\n}\n",
                 "src/Command/InstallCommand.php": command.replace("{}", "")})
    repo.commit("Add deprecated flag", {"res/schema.json": '{"deprecated": true}\n'})
    repo.git("checkout", "-q", "main")
    repo.commit("Fix typo in README", {"README.md": "Composer\n"})
    repo.merge("source-fallback-disable", "Merge pull request #12885 from Seldaek/source-fallback-disable\n\n"
                                          "Disable source fallback")
    repo.commit("Update changelog", {"CHANGELOG.md": "### [2.10.0]\n\n  * BC Break / Security: Disabled automatic "
                                                     "fallback to source checkout if dist/zip install fails (#12885)\n"
                                                     "\n### [2.9.0]\n\n  * Older work\n"})
    data = report(repo)
    work = by_subject(data)["Disable source-fallback by default, mark it deprecated"]
    assert work["tier"] == "security"
    assert work["description"].startswith("Disabled automatic fallback to source checkout")
    assert by_subject(data)["Add deprecated flag"]["tier"] != "security"  # one commit carries the entry
    (item,) = attention(data, "security")
    assert item.startswith("Disabled automatic fallback to source checkout") and "CHANGELOG.md:3" in item
    assert by_subject(data)["Update changelog"]["category"] == "Documentation"  # release notes, not a fix
    (again,) = attention(data, "behaviour")  # a BC break as well: named again, short, with the code line
    assert "(the security fix above; command-line option removed: --source-fallback at " \
           "src/Command/InstallCommand.php:" in again
    docs = next(a for a in data["areas"] if a["name"] == "documentation")
    assert "Disabled automatic fallback" not in docs["what"]  # release notes are not what changed in the docs


def test_release_commit_with_a_version_bump_and_a_bots_history_entries_describe_the_work(git_repo):
    """jekyll: "Release v4.4.0" adds the release's entries and bumps lib/jekyll/version.rb; jekyllbot's
    "Update history to reflect merge of #9671" adds the entry of a pull request that changed only the gemspec."""
    repo = git_repo
    repo.commit("Initial", {"lib/jekyll/version.rb": 'VERSION = "4.3.4"\n', "jekyll.gemspec": "s.name = 'jekyll'\n",
                            "lib/jekyll/frontmatter.rb": "def glob(path)\n  path\nend\n",
                            "History.markdown": "## HEAD\n\n## 4.3.4\n\n  * Older\n"})
    repo.commit("Add `json` as runtime_dependency (#9671)",
                {"jekyll.gemspec": "s.name = 'jekyll'\ns.add_runtime_dependency 'json'\n"})
    repo.commit("Update history to reflect merge of #9671 [ci skip]",
                {"History.markdown": "## HEAD\n\n### Minor Enhancements\n\n  * Add json as runtime_dependency "
                                     "(#9671)\n\n## 4.3.4\n\n  * Older\n"},
                author=("jekyllbot", "jekyllbot@jekyllrb.com"))
    repo.commit("Restore globbed path behavior in front matter defaults (#9762)",
                {"lib/jekyll/frontmatter.rb": "def glob(path)\n  File.fnmatch?(path, '*')\nend\n"})
    repo.commit("Release :gem: v4.4.0",
                {"lib/jekyll/version.rb": 'VERSION = "4.4.0"\n',
                 "History.markdown": "## 4.4.0 / 2026-11-20\n\n### Minor Enhancements\n\n  * Add json as "
                                     "runtime_dependency (#9671)\n\n### Bug Fixes\n\n  * Restore globbed path "
                                     "behavior in front matter defaults ([#9762]({{ site.repository }}/issues/9762))"
                                     "\n\n### Development Fixes\n\n  * Bump cucumber to v9 (#9747)\n\n## 4.3.4\n\n"
                                     "  * Older\n"})
    data = report(repo)
    commits = by_subject(data)
    assert commits["Add `json` as runtime_dependency (#9671)"]["tier"] == "feature"
    fix = commits["Restore globbed path behavior in front matter defaults (#9762)"]
    assert fix["tier"] == "fix" and fix["description"] == "Restore globbed path behavior in front matter defaults"
    assert commits["Release :gem: v4.4.0"]["tier"] == "docs"
    texts = [h["text"] for h in data["highlights"]]
    assert "Restore globbed path behavior in front matter defaults." in texts
    assert not any("{{" in t or "](" in t for t in texts)
    (release,) = data["releases"] if data["releases"] else [None]
    assert release is None or "{{" not in " ".join(release["notes"])


def test_release_notes_do_not_repeat_highlights_and_assistants_are_not_people(git_repo):
    """echo: v5.3.0's notes said "Add support for HTTP QUERY method" under a highlight saying the same; a coding
    assistant named in Co-authored-by is not a person of the team."""
    repo = git_repo
    repo.commit("Initial", {"echo.go": "package echo\n", "CHANGELOG.md": "# Changelog\n"})
    repo.commit("feat: add support for HTTP QUERY method (#30)\n\nCo-authored-by: Claude Opus <noreply@anthropic.com>",
                {"echo.go": "package echo\n\nfunc QUERY() {}\n", "echo_test.go": "package echo\n"})
    repo.commit("perf(json): pooled-buffer JSON deserialize (#31)", {"json.go": "package echo\n\nfunc Decode() {}\n"})
    for n in range(3):
        repo.commit(f"test: lock in route handling case {n}", {f"route{n}_test.go": "package echo\n"})
    sha = repo.commit("Changelog for v5.3.0", {"CHANGELOG.md": "# Changelog\n\n## v5.3.0 - 2026-11-02\n\n"
                                                               "**Enhancements**\n\n"
                                                               "* feat: add support for HTTP QUERY method by @a in "
                                                               "https://github.com/o/echo/pull/30\n"
                                                               "* perf(json): pooled-buffer JSON deserialize by @b in "
                                                               "https://github.com/o/echo/pull/31\n"})
    repo.git("tag", "v5.3.0", sha)
    data = report(repo)
    texts = [h["text"] for h in data["highlights"]]
    assert "Add support for HTTP QUERY method." in texts
    (release,) = data["releases"]
    assert not any("QUERY" in n or "JSON" in n for n in release["notes"])  # both are highlights already
    assert data["numbers"]["co_authors"] == []
    assert [a["name"] for a in data["areas"]][:2] == ["repo core", "tests"]  # the code first, then its tests


def test_a_highlight_stands_for_a_theme_only_when_it_says_what_the_theme_is_about():
    """echo: "static, routes, 404" linked twelve commits through shared files; the QUERY-method feature was shown
    "with 11 related changes" though it is about none of them."""
    from narrator.git.classify import Classifier
    from narrator.git.facts import CommitFacts, FileChange, Narration, Person
    from narrator.report.aggregate import build_report
    from narrator.report.model import Judgment, PeriodInput, ThemeRef

    ada = Person("Ada", "ada@example.com")
    start = datetime(2026, 11, 2, tzinfo=timezone.utc)
    subjects = ["feat: add support for HTTP QUERY method", "fix(static): preserve matched handler 404s",
                "fix(group): implicit 404 routes may be overwritten", "test(static): table-driven 404 cases"] + \
        [f"docs: typo {n}" for n in range(12)]
    commits = [CommitFacts(sha=f"{n + 1:040x}", parents=(f"{n + 500:040x}",), author=ada, committer=ada,
                           authored_at=start, committed_at=start, subject=s, body="",
                           files=(FileChange("router.go", added=5, deleted=1, language="Go"),))
               for n, s in enumerate(subjects)]
    cls = {c.sha: Classifier(project="echo").classify(c) for c in commits}
    tiers = ["feature", "fix", "fix", "tests"] + ["docs"] * 12
    judgments = {c.sha: Judgment(score={"feature": 110, "fix": 100}.get(t, 40), tier=t, reasons=(),
                                 description=c.subject.split(": ", 1)[1], description_source="subject")
                 for c, t in zip(commits, tiers)}
    theme = ThemeRef("static, routes, 404", tuple(c.sha for c in commits[:4]), "", 120.0)
    narrations = {c.sha: Narration(c.sha, judgments[c.sha].description + ".", "heuristic") for c in commits}
    rep = build_report(period=PeriodInput(commits, cls, start, start), narrations=narrations, previous=None,
                       repository="echo", revision="main", tz=timezone.utc, tz_name="UTC", generated_at=start,
                       judgments=judgments, themes=[theme])
    shown = {h.text: (h.related, h.theme) for h in rep.highlights}
    assert shown["add support for HTTP QUERY method."] == (0, "")
    assert shown["preserve matched handler 404s."] == (2, "static, routes, 404")  # 404s, static, 404 routes
    assert "implicit 404 routes may be overwritten." not in shown  # folded into the theme's highlight
    from narrator.report.render import render

    assert "with 2 related changes, Ada" in render(rep, "md")


def test_lodash_like_window_security_first_comments_and_lint_are_not_work(git_repo):
    """lodash Dec 2025 - Apr 2026: two prototype-pollution fixes (one citing an advisory), JSDoc-only changes
    filed as a feature and a fix, a lint fix, three releases without notes."""
    repo = git_repo
    body = "    return object;\n" * 30
    repo.commit("Initial", {"lodash.js": "/**\n * @returns {number} Returns `true`.\n */\nfunction baseUnset(object) {\n"
                                         + body + "}\n", "test/test.js": "t();\n", "lib/main/build-doc.js": "a();\n"},
                when=datetime(2026, 10, 1, tzinfo=timezone.utc))
    repo.commit("Prevent prototype pollution on baseUnset function",
                {"lodash.js": "/**\n * @returns {number} Returns `true`.\n */\nfunction baseUnset(object) {\n"
                              "  if (key === '__proto__') return false;\n" + body + "}\n",
                 "test/test.js": "t();\nu();\n"})
    repo.commit("jsdoc: Add -0 and BigInt zeros to _.compact falsey values list (#6062)",
                {"lodash.js": "/**\n * @returns {boolean} Returns `true`, -0 and 0n.\n */\nfunction baseUnset(object) {\n"
                              "  if (key === '__proto__') return false;\n" + body + "}\n"})
    repo.commit("fix: linting issues", {"lodash.js": "/**\n * @returns {boolean} Returns `true`, -0 and 0n.\n */\n"
                                                     "function baseUnset(object) {\n  if (key === '__proto__') return "
                                                     "false\n" + body + "}\n"})
    repo.commit("doc: fix autoLink function, conversion of source links (#6056)", {"lib/main/build-doc.js": "b();\n"})
    repo.commit("fix: validate imports keys in _.template\n\nRef: https://github.com/lodash/lodash/security/advisories/"
                "GHSA-r5fr-rjxr-66jc\nFixes an incomplete patch for CVE-2021-23337.",
                {"lodash.js": "/**\n * @returns {boolean} Returns `true`, -0 and 0n.\n */\nfunction baseUnset(object) {\n"
                              "  if (key === '__proto__') return false\n  validate(imports);\n" + body + "}\n"})
    for name in ("4.17.23", "4.18.0"):
        repo.commit(f"Bump to {name}", {"package.json": f'{{"version": "{name}"}}\n'})
        repo.git("tag", name)
    data = report(repo)
    commits = by_subject(data)
    assert commits["jsdoc: Add -0 and BigInt zeros to _.compact falsey values list (#6062)"]["tier"] == "docs"
    assert commits["jsdoc: Add -0 and BigInt zeros to _.compact falsey values list (#6062)"]["category"] == \
        "Documentation"
    assert commits["fix: linting issues"]["tier"] == "refactor"
    assert commits["doc: fix autoLink function, conversion of source links (#6056)"]["tier"] == "docs"
    assert [h["tier"] for h in data["highlights"]] == ["security", "security"]
    items = attention(data, "security")
    assert any("GHSA-r5fr-rjxr-66jc, commit" in i and "CVE-2021-23337" not in i for i in items)
    assert any("the subject names prototype pollution" in i for i in items)
    md = markdown(repo)
    assert "- **Releases 4.17.23 (" in md and ") and 4.18.0 (" in md and "(release notes:" not in md  # no origin
    assert "Validated imports keys in _.template, in the repo core." in md.replace("\\_", "_")


def test_guice_like_releases_cut_beside_the_branch_and_long_subjects(git_repo):
    """guice tags 7.0.0 on a "set 7.0.0 release #s" commit made beside master, after release candidates; its
    subjects are paragraphs with "Fixes #739, fixes #997." inside and a "This is a breaking change" sentence."""
    repo = git_repo
    repo.commit("Initial", {"core/src/Injector.java": "class Injector {}\n"},
                when=datetime(2026, 10, 1, tzinfo=timezone.utc))
    repo.git("checkout", "-q", "--orphan", "npm")  # build output kept as another history (lodash's 4.18.1-npm)
    repo.commit("npm package", {"package.json": "{}\n"}, when=datetime(2026, 11, 3, tzinfo=timezone.utc))
    repo.git("tag", "7.0.0-npm")
    repo.git("checkout", "-q", "main")
    long_subject = ("Don't automatically create an EntityManager outside of a UnitOfWork, because it leads to leaks. "
                    "Fixes #739, fixes #997, fixes #730. This also adds an optional Options to the JpaPersistModule "
                    "constructor, if users wish to use the legacy behavior. This is a breaking change, but to a "
                    "better default value. Users who want to keep the dangerous form can opt back in.")
    repo.commit(long_subject, {"extensions/persist/Jpa.java": "class Jpa {\n" + "  int x;\n" * 30 + "}\n"})
    sha = repo.commit("Implement `and` and `or` in `Matcher` directly", {"core/src/Matcher.java": "class M {}\n"})
    repo.git("tag", "7.0.0-rc1", sha)
    repo.git("checkout", "-q", "-b", "release")
    repo.commit("set 7.0.0 release #s", {"core/pom.xml": "<version>7.0.0</version>\n"})
    repo.git("tag", "7.0.0")
    repo.git("checkout", "-q", "main")
    repo.commit("Update README", {"README.md": "Guice\n"})
    data = report(repo)
    assert [r["name"] for r in data["releases"]] == ["7.0.0"]  # the candidate is superseded, npm is not ours
    assert data["headline"].startswith("Released 7.0.0 (")
    texts = [h["text"] for h in data["highlights"]]
    jpa = next(t for t in texts if t.startswith("Don't automatically create an EntityManager"))
    assert "#739" not in jpa and "Users who want" not in jpa and ". (a breaking" not in jpa
    assert by_subject(data)[long_subject]["tier"] == "behaviour" and by_subject(data)[long_subject]["breaking"]
    assert "Implemented \u201cand\u201d and \u201cor\u201d in \u201cMatcher\u201d directly, in the repo core." in texts


def test_cached_evidence_follows_the_classification_of_today(git_repo):
    repo = git_repo
    repo.commit("Initial", {"src/app/parser.py": "x = 1\n"}, when=datetime(2026, 10, 1, tzinfo=timezone.utc))
    repo.commit("Tidy parser module", {"src/app/parser.py": "x = 2\n"})
    assert by_subject(report(repo))["Tidy parser module"]["tier"] != "behaviour"
    repo.write(".narrator.toml", '[classify]\nrules = [{ category = "Features", subject = "^Tidy" }]\n')
    again = by_subject(report(repo))["Tidy parser module"]
    assert again["category"] == "Features" and again["tier"] == "feature"


# -- a merge is described by the work it brought in ---------------------------------------------------------

def test_a_merge_without_a_title_names_the_commits_its_branch_brought_in():
    """flask 089cb86d "Merge commit from fork" read "Merged work from another branch (6 files changed)."; the
    report knows the two commits the fork brought in, so the sentence names them (at most three)."""
    from datetime import datetime, timedelta, timezone

    from narrator.app.evidence import merge_work
    from narrator.engines.heuristic import narrate_commit
    from narrator.git.classify import Classifier
    from narrator.git.facts import CommitFacts, FileChange, Person

    who = Person("Dev", "dev@example.com")
    start = datetime(2026, 2, 18, tzinfo=timezone.utc)

    def made(n: int, subject: str, parents: tuple[str, ...], merge: bool = False) -> CommitFacts:
        when = start + timedelta(hours=n)
        return CommitFacts(sha=f"{n:040x}", parents=parents, author=who, committer=who, authored_at=when,
                           committed_at=when, subject=subject, is_merge=merge,
                           files=(FileChange("src/app.py", added=1, deleted=0),))

    base = made(1, "older work", ())
    one = made(2, "start version 3.1.3", (base.sha,))
    two = made(3, "request context tracks session access", (one.sha,))
    fork = made(4, "Merge commit from fork", (base.sha, two.sha), merge=True)
    wide = [made(10 + i, f"step {i}", ((fork.sha,) if i == 0 else (f"{10 + i - 1:040x}",))) for i in range(4)]
    stable = made(20, "Merge branch 'stable'", (fork.sha, wide[-1].sha), merge=True)
    window = [stable, *reversed(wide), fork, two, one, base]
    work = merge_work(window)
    assert work == {fork.sha: "start version 3.1.3\nrequest context tracks session access"}  # 4 is too many
    cl = Classifier().classify(fork)
    assert narrate_commit(fork, cl, work[fork.sha]) == ("Merged work from another branch: \u201cstart version "
                                                        "3.1.3\u201d and \u201crequest context tracks session access\u201d.")
    assert narrate_commit(stable, Classifier().classify(stable), "") == \
        "Merged the branch \u201cstable\u201d (1 file changed)."
    assert narrate_commit(stable, Classifier().classify(stable), "fix <b>x</b>") == \
        "Merged the branch \u201cstable\u201d, with \u201cfix <b>x</b>\u201d."  # escaped by the renderers


def test_a_commit_with_its_own_changelog_entry_and_shipped_code_is_not_upkeep():
    """flask fbb6f0bc "all teardown callbacks are called despite errors" names no kind of work (the classifier's
    fallback, Chores) but adds a changelog entry for users and changes shipped code: new work, not upkeep."""
    from narrator.app.evidence import own_category
    from narrator.evidence.changelog import ChangelogEntry
    from narrator.evidence.commit import CommitEvidence
    from narrator.git.facts import Classification

    text = "All teardown callbacks are called, even if any raise an error."
    entry = ChangelogEntry(text=text, raw=f"-   {text} :pr:`5928`", kind=None, kind_source=None, section=None,
                           version=None, refs=("5928",), path="CHANGES.rst", line=17, source="changelog")
    fallback = Classification(category="Chores", areas=("src/flask",), rule="fallback")
    code = CommitEvidence(sha="f" * 40, subject="all teardown callbacks are called despite errors",
                          entries=(entry,), source_paths=("src/flask/app.py",), source_churn=40)
    assert own_category(code, fallback).category == "Features"
    assert own_category(code, fallback, release_notes=True).category == "Chores"  # release notes describe others
    docs_only = CommitEvidence(sha="e" * 40, subject="changelog wording", entries=(entry,))
    assert own_category(docs_only, fallback).category == "Chores"
    chore = Classification(category="Chores", areas=("src/flask",), rule="conventional: chore")
    assert own_category(code, chore).category == "Chores"  # the author said chore
