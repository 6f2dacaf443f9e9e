"""narrator.evidence.changelog: changelog files, news fragments, and the entries a commit adds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from narrator.evidence.changelog import (added_entries, changelog_file_kind, entries_from_text, fragment_type,
                                         normalise_kind, tag_entries)
from narrator.evidence.patch import parse_patch


def change(tmp_path: Path, before: dict[str, str], after: dict[str, str | None], context: int = 3):
    """(patches, texts after) of a real ``git diff`` between two trees."""
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
        if content is None:
            (repo / rel).unlink()
        else:
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_text(content)
    git("add", "-A")
    patches = parse_patch(git("diff", "--cached", f"-U{context}"))
    return {p.path: p for p in patches}, {k: v for k, v in after.items() if v is not None}


@pytest.mark.parametrize("path,kind", [
    ("CHANGES.rst", "file"), ("CHANGELOG.md", "file"), ("CHANGES.txt", "file"), ("HISTORY.md", "file"),
    ("History.md", "file"), ("NEWS", "file"), ("NEWS.rst", "file"), ("RELEASE_NOTES.md", "file"),
    ("ChangeLog-2.10.md", "file"), ("docs/changelog.rst", "file"), ("docs/CHANGES.md", "file"),
    ("packages/ui/CHANGELOG.md", "file"), ("src/changes/changes.xml", "file"), ("docs/releases/4.2.txt", "file"),
    ("changes/1234.bugfix.rst", "fragment"), ("changelog.d/20240101_foo.change.md", "fragment"),
    ("newsfragments/99.feature", "fragment"), ("src/twisted/newsfragments/1234.removal", "fragment"),
    ("news/5678.doc.rst", "fragment"), ("CHANGES/567.bugfix.rst", "fragment"), ("changelog/new_cop.md", "fragment"),
    ("changelog/fix_crash_in_foo.md", "fragment"), (".changeset/brave-lions-sing.md", "fragment"),
    ("changelog_unreleased/javascript/123.md", "fragment"), ("changelogs/unreleased/fix-x.yml", "fragment"),
    ("src/app/changes.py", None), ("lib/history.js", None), ("changes/README.md", None),
    ("newsfragments/.gitignore", None), ("docs/index.md", None), ("README.md", None),
])
def test_changelog_file_kind(path, kind):
    assert changelog_file_kind(path) == kind


def test_fragment_types_and_kinds():
    assert fragment_type("changes/1234.bugfix.rst") == "bugfix"
    assert fragment_type("changes/+orphan.feature.md") == "feature"
    assert fragment_type("changes/12.feature.2.md") == "feature"
    assert fragment_type("changelog/new_style_cop.md") == "new"
    assert fragment_type("changelog/change_defaults.md") == "change"
    assert fragment_type("changes/1234-someone.md") is None
    for label, kind in [("Added", "feature"), ("Changed", "change"), ("Deprecated", "deprecation"),
                        ("Removed", "removal"), ("Fixed", "bugfix"), ("Security", "security"),
                        ("Bug fixes", "bugfix"), ("🐛 Bug Fixes", "bugfix"), ("Features", "feature"),
                        ("Breaking changes", "change"), ("Backwards incompatible changes", "change"),
                        ("Security fixes", "security"), ("Performance improvements", "performance"),
                        ("Improved Documentation", "doc"), ("Deprecations and Removals", "deprecation"),
                        ("Vendored Libraries", "packaging"), ("Trivial/Internal Changes", "misc"),
                        ("Miscellaneous", "misc"), ("Version 3.1.3", None)]:
        assert normalise_kind(label) == kind, label


KEEP_A_CHANGELOG = """# Changelog

## [Unreleased]

### Added
- A `--dry-run` flag for `sync`.
- Old entry.

### Fixed
- Crash in the parser.

## [1.2.0] - 2026-01-01

### Removed
- The old API.
"""


def test_keep_a_changelog_sections_and_versions(tmp_path):
    after = KEEP_A_CHANGELOG.replace("- Old entry.\n", "- Old entry.\n- Support for `config.audit.*` keys\n"
                                     "  across several lines (#123).\n").replace(
        "- Crash in the parser.\n", "- Crash in the parser.\n- Wrong exit code of `docs/results.md` builder.\n")
    patches, texts = change(tmp_path, {"CHANGELOG.md": KEEP_A_CHANGELOG}, {"CHANGELOG.md": after})
    entries = added_entries(patches["CHANGELOG.md"], texts["CHANGELOG.md"])
    assert [(e.kind, e.kind_source, e.section, e.version) for e in entries] == [
        ("feature", "section", "Added", "Unreleased"), ("bugfix", "section", "Fixed", "Unreleased")]
    assert entries[0].text == "Support for config.audit.* keys across several lines"
    assert entries[0].refs == ("#123",)
    assert entries[1].text == "Wrong exit code of docs/results.md builder."
    assert entries[0].line == 8


def test_section_from_hunk_context_without_text_after(tmp_path):
    after = KEEP_A_CHANGELOG.replace("- Crash in the parser.\n", "- Crash in the parser.\n- Another fix.\n")
    patches, _ = change(tmp_path, {"CHANGELOG.md": KEEP_A_CHANGELOG}, {"CHANGELOG.md": after}, context=3)
    (entry,) = added_entries(patches["CHANGELOG.md"])
    assert entry.section == "Fixed" and entry.kind == "bugfix"
    assert entry.version is None  # the version heading is outside the hunk and no text was given


FLASK_STYLE = """Version 3.2.0
-------------

Unreleased

-   Drop support for Python 3.9. :pr:`5730`
-   ``template_filter`` decorators can be used without parentheses.
    :issue:`5729`


Version 3.1.2
-------------

Released 2025-08-19

-   Fix something old. :issue:`1`
"""


def test_rest_changelog_without_sections(tmp_path):
    after = FLASK_STYLE.replace(
        "    :issue:`5729`\n",
        "    :issue:`5729`\n-   ``redirect`` returns a ``303`` status code by default instead of ``302``.\n"
        "    This tells the client to always switch to ``GET``. :issue:`5895`\n"
        "-   The ``should_ignore_error`` is deprecated. Handle errors as needed in\n"
        "    teardown handlers instead. :issue:`5816`\n"
        "-   All teardown callbacks are called, even if any raise an error. :pr:`5928`\n"
        "-   The session is marked as accessed for operations that only access the keys\n"
        "    but not the values, such as ``in`` and ``len``. :ghsa:`68rp-wp8r-4726`\n")
    patches, texts = change(tmp_path, {"CHANGES.rst": FLASK_STYLE}, {"CHANGES.rst": after})
    entries = added_entries(patches["CHANGES.rst"], texts["CHANGES.rst"])
    assert [e.version for e in entries] == ["3.2.0"] * 4
    assert [(e.kind, e.kind_source) for e in entries] == [
        ("change", "text"), ("deprecation", "text"), (None, None), ("security", "text")]
    assert entries[0].text.startswith("redirect returns a 303 status code by default instead of 302.")
    assert entries[0].refs == ("#5895",)
    assert entries[1].text == "The should_ignore_error is deprecated. Handle errors as needed in teardown " \
                              "handlers instead."
    assert entries[2].refs == ("#5928",)
    assert entries[3].refs == ("GHSA-68rp-wp8r-4726",)


def test_release_edit_and_moves_are_not_added(tmp_path):
    after = FLASK_STYLE.replace("Unreleased", "Released 2026-02-18").replace(
        "-   Drop support for Python 3.9. :pr:`5730`\n", "").replace(
        "    :issue:`5729`\n", "    :issue:`5729`\n-   Drop support for Python 3.9. :pr:`5730`\n").replace(
        "-   Fix something old.", "-   Fix something old, reworded.")
    patches, texts = change(tmp_path, {"CHANGES.rst": FLASK_STYLE}, {"CHANGES.rst": after})
    assert added_entries(patches["CHANGES.rst"], texts["CHANGES.rst"]) == ()


COMPOSER_STYLE = """### [2.10.0-RC2] 2026-05-20

  * Fixed --no-plugins handling regression (#12789)

### [2.9.8] 2026-05-13

  * Security: Fixed GitHub token validation and disclosure (GHSA-f9f8-rm49-7jv2)
"""


def test_inline_tags_and_verbs(tmp_path):
    after = ("### [2.10.0] 2026-05-28\n\n"
             "  * BC Break / Security: Disabled automatic fallback to source checkout, use `source-fallback` (#12885)\n"
             "  * BC Break: Minor break for `audit` consumers, the exit code is now always 0 or 1 (#12881)\n"
             "  * [BUGFIX] Handle uppercase schemes\n"
             "  * Fixed `audit` command returning a success code (#12880)\n"
             "  * Enabled blocking of malware packages at `install` time by default\n\n") + COMPOSER_STYLE
    patches, texts = change(tmp_path, {"CHANGELOG.md": COMPOSER_STYLE}, {"CHANGELOG.md": after})
    entries = added_entries(patches["CHANGELOG.md"], texts["CHANGELOG.md"])
    assert [(e.kind, e.kind_source, e.breaking) for e in entries] == [
        ("security", "tag", True), ("change", "tag", True), ("bugfix", "tag", False), ("bugfix", "verb", False),
        ("change", "text", False)]
    assert all(e.version == "2.10.0" for e in entries)
    assert entries[0].text == "Disabled automatic fallback to source checkout, use source-fallback"
    assert entries[4].text == "Enabled blocking of malware packages at install time by default"


def test_sub_bullets_belong_to_their_parent(tmp_path):
    before = "## Unreleased\n\n- Existing.\n"
    after = "## Unreleased\n\n- New `policy` config:\n  - `malware` block\n  - `abandoned` audit\n- Existing.\n"
    patches, texts = change(tmp_path, {"CHANGELOG.md": before}, {"CHANGELOG.md": after})
    (entry,) = added_entries(patches["CHANGELOG.md"], texts["CHANGELOG.md"])
    assert entry.text == "New policy config: malware block; abandoned audit"


def test_fragments(tmp_path):
    patches, texts = change(tmp_path, {"README.md": "x\n"}, {"docs/index.md": "- Not a changelog.\n",
        "changes/1234.bugfix.rst": "Fix ``--no-deps`` being ignored.\n",
        "changelog/new_add_cop.md": "* [#99](https://github.com/r/r/issues/99): Add new `Style/Foo` cop. ([@koic][])\n",
        ".changeset/brave-lions.md": "---\n\"@scope/pkg\": minor\n---\n\nAdd `retry` option.\n",
        "changelogs/unreleased/fix-x.yml": "---\ntitle: Fix crash in `git push`\nmerge_request: 12\ntype: fixed\n",
    })
    got = {path: added_entries(p, texts.get(path)) for path, p in patches.items()}
    (bug,) = got["changes/1234.bugfix.rst"]
    assert (bug.kind, bug.kind_source, bug.source, bug.text, bug.refs) == \
        ("bugfix", "fragment", "fragment", "Fix --no-deps being ignored.", ("#1234",))
    (cop,) = got["changelog/new_add_cop.md"]
    assert (cop.kind, cop.text, cop.refs) == ("feature", "Add new Style/Foo cop.", ("#99",))
    (change_set,) = got[".changeset/brave-lions.md"]
    assert (change_set.kind, change_set.text) == ("feature", "Add retry option.")
    (gitlab,) = got["changelogs/unreleased/fix-x.yml"]
    assert (gitlab.kind, gitlab.text) == ("bugfix", "Fix crash in git push")
    assert got["docs/index.md"] == ()


def test_modified_fragment_is_not_new(tmp_path):
    patches, texts = change(tmp_path, {"changes/1.feature.md": "Add x.\n"}, {"changes/1.feature.md": "Add x!\n"})
    assert added_entries(patches["changes/1.feature.md"], texts["changes/1.feature.md"]) == ()


def test_changes_xml(tmp_path):
    before = ('<document><body><release version="3.15.0" date="2026-01-01">\n'
              '  <action type="fix" dev="a">Old.</action>\n</release></body></document>\n')
    after = before.replace('  <action type="fix" dev="a">Old.</action>\n',
                           '  <action type="add" dev="b" issue="LANG-1700">Add StringUtils.truncate(String, int).\n'
                           '  </action>\n  <action type="fix" dev="a">Old.</action>\n')
    patches, texts = change(tmp_path, {"src/changes/changes.xml": before}, {"src/changes/changes.xml": after})
    (entry,) = added_entries(patches["src/changes/changes.xml"], texts["src/changes/changes.xml"])
    assert (entry.kind, entry.kind_source, entry.version) == ("feature", "xml", "3.15.0")
    assert entry.text.startswith("Add StringUtils.truncate(String, int).") and "LANG-1700" in entry.refs


def test_tag_notes():
    assert tag_entries("3.1.3", "release version 3.1.3") == ()
    notes = ("Release 2.0\n\n## Breaking changes\n\n- Removed `--legacy` flag.\n\n## Fixes\n\n"
             "- Fixed a crash (#12).\n\n-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n")
    entries = tag_entries("v2.0.0", notes)
    assert [(e.text, e.kind, e.version, e.source) for e in entries] == [
        ("Removed --legacy flag.", "change", "2.0.0", "tag"), ("Fixed a crash", "bugfix", "2.0.0", "tag")]
    assert entries[0].breaking
    plain = entries_from_text("Faster startup when many plugins are installed.\n\nSee the docs.")
    assert [e.text for e in plain] == ["Faster startup when many plugins are installed.", "See the docs."]


def test_development_sections_are_upkeep():
    from narrator.evidence.changelog import normalise_kind

    assert normalise_kind("Development Fixes") == "misc"  # jekyll: CI and test-suite work, not user fixes
    assert normalise_kind("Internal improvements") == "misc"
    assert normalise_kind("Bug Fixes") == "bugfix" and normalise_kind("Minor Enhancements") == "feature"


ECHO_NOTES = """## v5.3.0 - 2026-07-12

**Logic changes**
PR #2996 revert back to v4 behavior for a group registering implicit 404 handlers.

some other noteworthy echancements:
* Adds first-class support for the QUERY HTTP method RFC 10008 in https://github.com/labstack/echo/pull/3038

**Enhancements**

* fix(binder): serialize BindingError to structured JSON by @vishr in https://github.com/labstack/echo/pull/3004
* Fix proxy panic when balancer has no targets by @shblue21 in https://github.com/labstack/echo/pull/2977
* Update deps to latest versions by @aldas in https://github.com/labstack/echo/pull/3050
* docs: fix typos in API_CHANGES_V5.md by @maxtaran2010 in https://github.com/labstack/echo/pull/3039

## v5.2.1 - 2026-06-15

**Security**

Given following situation:
```go
e.GET("/admin/*", func(c *Context) error {
    return ErrForbidden
})
```

------

* revert PR #3009 changes to just disabling path escaping by default by @aldas in https://github.com/labstack/echo/pull/3016
"""


def test_github_release_notes_sections_prefixes_and_fences():
    """echo's CHANGELOG: pull request titles keep their Conventional prefix under a catch-all "Enhancements"; a
    code block's closing fence is not a heading underline (the entry after it is still under **Security**)."""
    got = {e.text: (e.kind, e.section, e.version) for e in entries_from_text(ECHO_NOTES, "CHANGELOG.md", "changelog")}
    assert got["Adds first-class support for the QUERY HTTP method RFC 10008"] == ("feature", "Logic changes", "5.3.0")
    assert got["serialize BindingError to structured JSON"] == ("bugfix", "Enhancements", "5.3.0")
    assert got["Fix proxy panic when balancer has no targets"][0] == "bugfix"
    assert got["Update deps to latest versions"][0] == "packaging"
    assert got["fix typos in API_CHANGES_V5.md"][0] == "doc"
    revert = "revert PR #3009 changes to just disabling path escaping by default"
    assert got[revert] == ("security", "Security", "5.2.1")


def test_numpy_style_labels_are_tags_even_behind_a_credit():
    """numpy's changelogs list pull request titles with their labels ("`#28123 <url>`__: TYP: fix ..."); the
    labels name the kind of work and are not part of what a reader is told (the area table read "BUG, TYP; TYP")."""
    from narrator.evidence.changelog import _make_entry
    from narrator.evidence.match import pr_title

    def entry(raw: str):
        made = _make_entry("doc/changelog/2.4.0-changelog.rst", 722, raw, None, "2.4.0", "changelog")
        return made.text, made.kind

    assert entry("`#28123 <https://github.com/numpy/numpy/pull/28123>`__: TYP: fix stubtest errors in "
                 "``numpy._core``") == ("fix stubtest errors in numpy._core", "misc")
    assert entry("`#30143 <https://github.com/numpy/numpy/pull/30143>`__: BUG, TYP: runtime signatures") \
        == ("runtime signatures", "bugfix")
    assert entry("ENH: add a dtype") == ("add a dtype", "feature")
    assert entry("ENH, TYP: add a dtype") == ("add a dtype", "feature")
    assert entry("DEP: finalize removal of numpy.compat") == ("finalize removal of numpy.compat", "deprecation")
    assert pr_title("BUG, TYP: add the remaining runtime signatures") == "add the remaining runtime signatures"
