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
    repo.commit("Initial", {"src/Downloader.php": "<?php\nclass Downloader {\n  public $fallback = true;\n}\n",
                            "CHANGELOG.md": "### [2.9.0]\n\n  * Older work\n"})
    repo.git("checkout", "-q", "-b", "source-fallback-disable")
    repo.commit("Disable source-fallback by default, mark it deprecated",
                {"src/Downloader.php": "<?php\nclass Downloader {\n  public $fallback = false;\n"
                                       "  public function fetch() { return $this->fallback ? 1 : 2; }\n}\n"})
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
