"""narrator.evidence.forge: links from the origin URL, for each forge, and nothing for hostile URLs."""

from __future__ import annotations

import pytest

from narrator.evidence.forge import commit_url, compare_url, forge_of, issue_url, pr_url, ref_url, tag_url

SHA = "c17f379390731543eea33a570a47bd4ef76a54fa"


@pytest.mark.parametrize("url", [
    "https://github.com/pallets/flask", "https://github.com/pallets/flask.git", "https://github.com/pallets/flask/",
    "git@github.com:pallets/flask.git", "ssh://git@github.com/pallets/flask.git", "git://github.com/pallets/flask",
    "https://user:ghp_secret123@github.com/pallets/flask.git", "https://x-access-token:abc@github.com/pallets/flask",
    "ssh://git@github.com:22/pallets/flask.git", "HTTPS://GitHub.com/pallets/flask",
])
def test_github_forms(url):
    forge = forge_of(url)
    assert forge is not None and forge.kind == "github" and forge.base.lower() == "https://github.com/pallets/flask"
    assert "secret" not in forge.base and "token" not in forge.base and "@" not in forge.base


def test_github_links():
    forge = forge_of("git@github.com:pallets/flask.git")
    assert commit_url(forge, SHA) == f"https://github.com/pallets/flask/commit/{SHA}"
    assert pr_url(forge, 5928) == "https://github.com/pallets/flask/pull/5928"
    assert issue_url(forge, "#5895") == "https://github.com/pallets/flask/issues/5895"
    assert tag_url(forge, "3.1.3") == "https://github.com/pallets/flask/releases/tag/3.1.3"
    assert compare_url(forge, "3.1.2", "3.1.3") == "https://github.com/pallets/flask/compare/3.1.2...3.1.3"
    assert ref_url(forge, "GHSA-68rp-wp8r-4726") == \
        "https://github.com/pallets/flask/security/advisories/GHSA-68rp-wp8r-4726"
    assert ref_url(forge, "CVE-2026-1234") == "https://www.cve.org/CVERecord?id=CVE-2026-1234"


def test_gitlab_with_subgroups():
    forge = forge_of("git@gitlab.com:group/sub/project.git")
    assert (forge.kind, forge.path) == ("gitlab", "group/sub/project")
    assert commit_url(forge, SHA) == f"https://gitlab.com/group/sub/project/-/commit/{SHA}"
    assert pr_url(forge, 12) == "https://gitlab.com/group/sub/project/-/merge_requests/12"
    assert issue_url(forge, 3) == "https://gitlab.com/group/sub/project/-/issues/3"
    assert tag_url(forge, "v1.0") == "https://gitlab.com/group/sub/project/-/tags/v1.0"
    assert compare_url(forge, "v1.0", "v1.1") == "https://gitlab.com/group/sub/project/-/compare/v1.0...v1.1"
    assert ref_url(forge, "!7") == "https://gitlab.com/group/sub/project/-/merge_requests/7"
    assert forge_of("https://gitlab.example.org/a/b").kind == "gitlab"
    assert forge_of("https://gitlab.com/group/project/-/tree/main").path == "group/project"


def test_bitbucket_and_gitea_family():
    bb = forge_of("git@bitbucket.org:team/repo.git")
    assert commit_url(bb, SHA) == f"https://bitbucket.org/team/repo/commits/{SHA}"
    assert pr_url(bb, 4) == "https://bitbucket.org/team/repo/pull-requests/4"
    assert compare_url(bb, "v1", "v2") == "https://bitbucket.org/team/repo/branches/compare/v2%0Dv1"
    for url in ("https://codeberg.org/forgejo/forgejo.git", "https://gitea.com/gitea/tea",
                "ssh://git@forgejo.example.net:2222/me/tool.git"):
        forge = forge_of(url)
        assert forge.kind == "gitea"
        assert pr_url(forge, 9).endswith("/pulls/9")
        assert "2222" not in forge.base  # an ssh port is not the web port
    assert forge_of("https://git.corp.example/me/tool", hosts={"git.corp.example": "gitlab"}).kind == "gitlab"
    assert forge_of("https://ghe.corp:8443/me/tool", hosts={"ghe.corp": "github"}).base == "https://ghe.corp:8443/me/tool"


@pytest.mark.parametrize("url", [
    None, "", "javascript:alert(1)", "JAVASCRIPT://github.com/a/b", "file:///etc/passwd", "data:text/html,x",
    "https://github.com/a/b c", 'https://github.com/a/"b', "https://github.com/a/<b>", "https://github.com/a/b\x00",
    "https://github.com/a/b\n", "https://github.com/../../x", "https://github.com/a", "https://github.com/a/b/c",
    "https://example.com/a/b", "git@unknown.host:a/b.git", "/local/path/repo", "../repo", "https://gïthub.com/a/b",
    "https://github.com\\@evil.com/a/b", "https://github.com/a/b?x=<script>", "https://github.com/a/`b`",
    "https://github.com:notaport/a/b", "https://-github.com/a/b",
])
def test_hostile_or_unknown_urls_give_no_links(url):
    assert forge_of(url) is None
    assert commit_url(forge_of(url), SHA) is None


def test_link_arguments_are_checked():
    forge = forge_of("https://github.com/a/b")
    assert commit_url(forge, "not-a-sha") is None
    assert commit_url(forge, "javascript:x") is None
    assert pr_url(forge, -1) is None and pr_url(forge, "12abc") is None and pr_url(forge, True) is None
    assert tag_url(forge, "v1.0 beta") is None and tag_url(forge, '"><script>') is None
    assert tag_url(forge, "release/1.0") == "https://github.com/a/b/releases/tag/release%2F1.0"
    assert ref_url(forge, "LANG-1") is None and ref_url(None, "#1") is None
