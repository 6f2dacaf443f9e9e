"""Web links for a repository from its ``origin`` remote URL: commits, pull requests, issues, tags, compares.

One job: ``forge_of(url)`` recognises where a repository is hosted and the link functions build URLs there.

| forge     | hosts                                             | commit        | PR / MR                 | issue            | tag                | compare            |
|-----------|---------------------------------------------------|---------------|-------------------------|------------------|--------------------|--------------------|
| github    | github.com (and ``hosts={"ghe.corp": "github"}``)  | /commit/S     | /pull/N                 | /issues/N        | /releases/tag/T    | /compare/A...B     |
| gitlab    | gitlab.com, hosts starting ``gitlab.`` (subgroups) | /-/commit/S   | /-/merge_requests/N     | /-/issues/N      | /-/tags/T          | /-/compare/A...B   |
| bitbucket | bitbucket.org                                     | /commits/S    | /pull-requests/N        | /issues/N        | /src/T             | /branches/compare/B%0DA |
| gitea     | codeberg.org, gitea.com, hosts starting ``gitea.``/``forgejo.``   | /commit/S     | /pulls/N                | /issues/N        | /releases/tag/T    | /compare/A...B     |

Any other host (a self-hosted GitHub Enterprise, GitLab or Forgejo) can be named in ``hosts``.

Accepted remote forms: ``https://[user[:token]@]host[:port]/owner/repo[.git]``, ``ssh://git@host[:port]/owner/repo.git``,
``git@host:owner/repo.git``, ``git://host/owner/repo``. Credentials are dropped and never appear in a link; an
ssh port is dropped (the web UI is on https). Unknown hosts give None (no links rather than wrong ones), and so
does anything hostile or odd: other schemes (``javascript:``, ``file:``, ``data:``), spaces, quotes, angle
brackets, backslashes, control characters (a trailing newline too: strip git's output first), non-ASCII hosts,
``..`` segments. Link arguments are checked too: a
commit must be hex, a number a positive integer, a tag is percent-encoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import quote

__all__ = ["Forge", "forge_of", "commit_url", "pr_url", "issue_url", "tag_url", "compare_url", "ref_url"]

FORGES = ("github", "gitlab", "bitbucket", "gitea")
_KNOWN_HOSTS = {"github.com": "github", "www.github.com": "github", "gitlab.com": "gitlab",
                "bitbucket.org": "bitbucket", "codeberg.org": "gitea", "gitea.com": "gitea"}
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\"'<>\\`{}|^]")
_SCP = re.compile(r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)$")
_URL = re.compile(r"^(?P<scheme>https?|ssh|git|git\+ssh|ssh\+git)://(?:(?P<cred>[^@/]*)@)?(?P<host>[^/:]+)"
                  r"(?::(?P<port>\d{1,5}))?(?P<path>/.*)$", re.I)
_HEX = re.compile(r"^[0-9a-fA-F]{4,64}$")


@dataclass(frozen=True, slots=True)
class Forge:
    """Where a repository lives: ``base`` is its web address (``https://github.com/pallets/flask``)."""

    kind: str  # github, gitlab, bitbucket, gitea
    host: str
    path: str  # owner/repo, or group/subgroup/repo on GitLab
    base: str


def _kind_for(host: str, hosts: Mapping[str, str] | None) -> str | None:
    if hosts and host in hosts and hosts[host] in FORGES:
        return hosts[host]
    if host in _KNOWN_HOSTS:
        return _KNOWN_HOSTS[host]
    first = host.split(".", 1)[0]
    if first == "gitlab":
        return "gitlab"
    if first in ("gitea", "forgejo"):
        return "gitea"
    return None


def forge_of(url: str | None, hosts: Mapping[str, str] | None = None) -> Forge | None:
    """The forge of a remote URL, or None when it is unknown, malformed or unsafe (see the module docstring).

    ``hosts`` maps self-hosted domains to a forge kind (``{"git.example.com": "gitlab"}``).
    """
    if not url or not isinstance(url, str) or len(url) > 2000:
        return None
    if _BAD_CHARS.search(url) or not url.isascii():
        return None
    m = _URL.match(url)
    if m:
        scheme = m.group("scheme").lower()
        host = m.group("host").lower()
        port = m.group("port")
        path = m.group("path")
        if scheme in ("https", "http") and port and port not in ("443", "80"):
            web_host = f"{host}:{port}"
        else:
            web_host = host
    else:
        m = _SCP.match(url)
        if not m or "://" in url:
            return None
        host = m.group("host").lower()
        web_host = host
        path = "/" + m.group("path")
    if not _HOST.match(host):
        return None
    kind = _kind_for(host, hosts)
    if kind is None:
        return None
    path = path.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if path.endswith(".git"):
        path = path[:-4]
    segments = [s for s in path.split("/") if s]
    if kind == "gitlab" and "-" in segments:
        segments = segments[:segments.index("-")]  # a link to a page inside the project
    if any(s in (".", "..") or not _SEGMENT.match(s) for s in segments):
        return None
    if len(segments) < 2 or (kind != "gitlab" and len(segments) != 2):
        return None
    repo_path = "/".join(segments)
    return Forge(kind=kind, host=web_host, path=repo_path, base=f"https://{web_host}/{repo_path}")


def commit_url(forge: Forge | None, sha: str) -> str | None:
    if forge is None or not _HEX.match(sha or ""):
        return None
    middle = {"github": "commit", "gitlab": "-/commit", "bitbucket": "commits", "gitea": "commit"}[forge.kind]
    return f"{forge.base}/{middle}/{sha.lower()}"


def _number(n: object) -> int | None:
    if isinstance(n, bool):
        return None
    if isinstance(n, str):
        n = n.lstrip("#!")
        if not n.isdigit():
            return None
        n = int(n)
    if isinstance(n, int) and 0 < n < 10**9:
        return n
    return None


def pr_url(forge: Forge | None, number: int | str) -> str | None:
    """A pull request (GitHub, Gitea, Bitbucket) or merge request (GitLab)."""
    n = _number(number)
    if forge is None or n is None:
        return None
    middle = {"github": "pull", "gitlab": "-/merge_requests", "bitbucket": "pull-requests", "gitea": "pulls"}[forge.kind]
    return f"{forge.base}/{middle}/{n}"


def issue_url(forge: Forge | None, number: int | str) -> str | None:
    """An issue. On GitHub ``/issues/N`` also redirects to a pull request with that number."""
    n = _number(number)
    if forge is None or n is None:
        return None
    middle = "-/issues" if forge.kind == "gitlab" else "issues"
    return f"{forge.base}/{middle}/{n}"


def _tag(tag: str) -> str | None:
    if not tag or len(tag) > 250 or _BAD_CHARS.search(tag) or tag.startswith("-") or ".." in tag:
        return None
    return quote(tag, safe="")


def tag_url(forge: Forge | None, tag: str) -> str | None:
    """The release (or tag page) of a tag."""
    t = _tag(tag)
    if forge is None or t is None:
        return None
    middle = {"github": "releases/tag", "gitlab": "-/tags", "bitbucket": "src", "gitea": "releases/tag"}[forge.kind]
    return f"{forge.base}/{middle}/{t}"


def compare_url(forge: Forge | None, base: str, head: str) -> str | None:
    """What changed between two revisions (tags or commits)."""
    a, b = _tag(base), _tag(head)
    if forge is None or a is None or b is None:
        return None
    if forge.kind == "bitbucket":
        return f"{forge.base}/branches/compare/{b}%0D{a}"
    middle = "-/compare" if forge.kind == "gitlab" else "compare"
    return f"{forge.base}/{middle}/{a}...{b}"


def ref_url(forge: Forge | None, ref: str) -> str | None:
    """A link for a normalised ref (``refs.find_refs``): ``#123`` -> issue/PR, ``!12`` -> MR, ``GHSA-...`` ->
    the advisory (GitHub), ``CVE-...`` -> cve.org; anything else None."""
    if not ref:
        return None
    if ref.startswith("#"):
        return issue_url(forge, ref[1:])
    if ref.startswith("!"):
        return pr_url(forge, ref[1:])
    if re.fullmatch(r"GHSA(-[23456789cfghjmpqrvwx]{4}){3}", ref):
        if forge is not None and forge.kind == "github":
            return f"{forge.base}/security/advisories/{ref}"
        return f"https://github.com/advisories/{ref}"
    if re.fullmatch(r"CVE-\d{4}-\d{4,7}", ref):
        return f"https://www.cve.org/CVERecord?id={ref}"
    return None
