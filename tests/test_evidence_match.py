"""narrator.evidence.match and refs: entries of a release's changelog commit -> the commits they describe."""

from __future__ import annotations

from dataclasses import dataclass

from narrator.evidence.changelog import ChangelogEntry
from narrator.evidence.match import TEXT_THRESHOLD, match_entries, pr_title, significant_words
from narrator.evidence.refs import advisory_ids, find_refs, pr_number_of_subject, ref_numbers


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    body: str = ""


def entry(text: str, refs: tuple[str, ...] = ()) -> ChangelogEntry:
    return ChangelogEntry(path="CHANGELOG.md", line=1, raw=text, text=text, kind=None, kind_source=None,
                          section=None, version="2.10.0", refs=refs)


def test_find_refs_normalises():
    text = ("Fix (#12), GH-13, :issue:`14`, :pr:`15`, https://github.com/o/r/pull/16, see !17, "
            ":ghsa:`68rp-wp8r-4726`, GHSA-F9F8-RM49-7JV2, cve-2024-12345, LANG-1234, UTF-8, composer/packagist#1715, "
            "&#39; #1.5")
    refs = find_refs(text)
    assert refs == ("#12", "#13", "#14", "#15", "#16", "!17", "GHSA-68rp-wp8r-4726", "GHSA-f9f8-rm49-7jv2",
                    "CVE-2024-12345", "LANG-1234", "composer/packagist#1715")
    assert ref_numbers(refs) == {12, 13, 14, 15, 16, 17}
    assert advisory_ids(refs) == ("GHSA-68rp-wp8r-4726", "GHSA-f9f8-rm49-7jv2", "CVE-2024-12345")


def test_pr_numbers_of_subjects():
    assert pr_number_of_subject("redirect defaults to 303 (#5898)") == 5898
    assert pr_number_of_subject("Merge pull request #12885 from Seldaek/source-fallback-disable") == 12885
    assert pr_number_of_subject("Merge branch 'fix' into 'main'", "See merge request group/sub/proj!42") == 42
    assert pr_number_of_subject("Fix #12 in the parser") is None


def test_pr_title():
    assert pr_title("Merge pull request #1 from a/b", "\nDisable source-fallback by default\n\nmore") == \
        "Disable source-fallback by default"
    assert pr_title("fix(cli): handle --no-deps (#12)") == "handle --no-deps"
    assert significant_words("Blocking malware packages") == significant_words("block malware package")


def test_match_by_number_first():
    commits = [Commit("a", "Sanitize urls everywhere in output (#12882)"),
               Commit("b", "Relax token validation on input, and hide more things on output (#12886)"),
               Commit("c", "Merge pull request #12885 from Seldaek/source-fallback-disable", "Disable source-fallback"),
               Commit("d", "Fix --no-plugins handling regression", "fixes #12789"),
               Commit("e", "Unrelated work (#1)")]
    got = match_entries([entry("Hardened output filtering of URLs", ("#12882", "#12886")),
                         entry("Disabled automatic fallback", ("#12885",)),
                         entry("Fixed --no-plugins handling regression", ("#12789",))], commits)
    assert [(m.entry.text[:8], m.sha, m.method, m.ref) for m in got] == [
        ("Hardened", "a", "ref", "#12882"), ("Hardened", "b", "ref", "#12886"),
        ("Disabled", "c", "ref", "#12885"), ("Fixed --", "d", "ref", "#12789")]


def test_match_by_text_when_no_number():
    commits = [Commit("a", "FilterList: block malware packages during composer install (#12826)"),
               Commit("b", "FilterList: assert that malware blocking still applies during partial updates (#12834)"),
               Commit("c", "Update composer dependencies"),
               Commit("d", "FilterLists: add support for the policy config to the ConfigCommand (#12809)"),
               Commit("e", "Fix phar creation")]
    (m,) = match_entries([entry("Enabled blocking of malware packages at `install` time by default")], commits)
    assert (m.sha, m.method) == ("a", "text") and m.score >= TEXT_THRESHOLD


def test_text_match_rejects_weak_and_ambiguous():
    commits = [Commit("a", "Fix typo in docs"), Commit("b", "Update the tokenizer tables"),
               Commit("c", "Faster parser speed"), Commit("d", "Lexer speed tuning"),
               Commit("e", "Release 2.0")]
    # one shared word is never enough
    assert match_entries([entry("Fixed a crash in the tokenizer")], commits) == ()
    # two commits that describe it about equally well: no guess
    assert match_entries([entry("Improved parser and lexer speed")], commits) == ()
    # a clear winner is taken
    (m,) = match_entries([entry("Improved parser speed")], commits)
    assert m.sha == "c"


def test_same_title_commit_and_merge_both_match():
    commits = [Commit("a", "redirect defaults to 303"), Commit("b", "redirect defaults to 303 (#5898)"),
               Commit("c", "document using gevent for async")]
    got = match_entries([entry("``redirect`` returns a ``303`` status code by default instead of ``302``.",
                               ("#5895",))], commits)
    assert sorted(m.sha for m in got) == ["a", "b"] and all(m.method == "text" for m in got)


def test_versions_and_bump_are_not_topics():
    assert significant_words("Bump cucumber to v9") == frozenset({"cucumber"})


def test_an_entry_citing_only_older_pull_requests_is_not_matched_by_text():
    """jekyll's v4.4.0 notes list a year of pull requests; "Lock Ruby in CI to v3.1.2 and bump JRuby (#9196)"
    must not land on this window's "Add Ruby 3.4 to CI matrix (#9740)"."""
    commits = [Commit("a", "Add Ruby 3.4 to CI matrix (#9740)"), Commit("b", "Bump cucumber to v9 (#9747)"),
               Commit("c", "Test inspect filter (#9743)")]
    old = entry("Lock Ruby in CI matrix to v3.1.2", ("#9196",))
    assert match_entries([old], commits) == ()
    recent = entry("Add Ruby 3.4 to the CI matrix", ("#9741",))  # an issue of this window: text may match
    assert [m.sha for m in match_entries([recent], commits)] == ["a"]


def test_the_credit_names_the_entrys_pull_request_not_its_prose():
    # echo v5.2.1: "revert PR #3009 changes ... by @aldas in https://github.com/labstack/echo/pull/3016"
    from narrator.evidence.clean import clean_entry

    raw = ("revert PR #3009 changes to just disabling path escaping by default by @aldas in "
           "https://github.com/labstack/echo/pull/3016")
    e = ChangelogEntry("CHANGELOG.md", 1, raw, clean_entry(raw), None, None, None, "5.2.1", find_refs(raw))
    commits = [Commit("fix", "fix(static): reject encoded path separators (#3009)"),
               Commit("rework", "revert PR #3009 changes to just disabling path escaping by default (#3016)"),
               Commit("other", "docs: liveness signals (#3002)")]
    assert [m.sha for m in match_entries([e], commits)] == ["rework"]


def test_a_long_subject_is_titled_by_its_first_sentence():
    # echo: the subject goes on with "This will fix: CORS middleware doesnt ..." after its title
    subject = ("Revert back to v4 behavior for group registering implicit 404 handlers. This will fix: CORS "
               "middleware doesnt automatically handle OPTIONS routes for groups anymore since upgrade to v5")
    commits = [Commit("a", subject), Commit("b", "docs: llms.txt for AI-assisted development"),
               Commit("c", "perf(router): cache-friendly static child lookup")]
    e = entry("Revert back to v4 behavior for group registering implicit 404 handler\u2026")
    assert [m.sha for m in match_entries([e], commits)] == ["a"]
