"""Finding references in text: issues and pull requests, security advisories, CVEs, tracker keys.

One job: ``find_refs(text)`` returns the references a commit message, changelog entry or release note names,
normalised so they can be compared:

| written as                                               | normalised            |
|----------------------------------------------------------|-----------------------|
| ``#123``, ``GH-123``, ``gh-123``, ``:issue:`123```, ``:pr:`123```, ``{issue}`123``` | ``#123`` |
| ``.../pull/123``, ``.../issues/123``, ``!123`` (GitLab MR)  | ``#123`` (``!123``)   |
| ``GHSA-68rp-wp8r-4726``, ``:ghsa:`68rp-wp8r-4726```, ``.../security/advisories/GHSA-...`` | ``GHSA-68rp-wp8r-4726`` |
| ``CVE-2024-12345``, ``:cve:`2024-12345```                  | ``CVE-2024-12345``    |
| ``LANG-1234`` (Jira-style keys)                           | ``LANG-1234``         |
| ``owner/repo#12`` (another repository)                    | ``owner/repo#12`` (never a local number) |

``ref_numbers`` gives the local issue/PR numbers of such a list.
"""

from __future__ import annotations

import re
from typing import Iterator

__all__ = ["find_refs", "ref_numbers", "advisory_ids", "pr_number_of_subject"]

_GHSA_BODY = r"(?i:[23456789cfghjmpqrvwx]{4}-[23456789cfghjmpqrvwx]{4}-[23456789cfghjmpqrvwx]{4})"
_REF = re.compile(
    r"(?P<ghsa>\b(?i:GHSA)-" + _GHSA_BODY + r"\b)"
    r"|(?::ghsa:|\{ghsa\})`(?P<ghsa_role>" + _GHSA_BODY + r")`"
    r"|(?P<cve>\b(?i:CVE)-\d{4}-\d{4,7}\b)"
    r"|:cve:`(?:CVE-)?(?P<cve_role>\d{4}-\d{4,7})`"
    r"|(?::|\{)(?:issue|pr|pull|gh|ghissue|ghpull|bug|bpo)s?(?::|\})`(?P<role>[\d ,#]+)`"
    r"|(?P<xrepo>\b[\w.-]+/[\w.-]+)#(?P<xnum>\d+)\b"
    r"|(?<![\w/&#!-])(?:#|GH-|gh-)(?P<num>\d{1,7})\b(?![-.]\d)"
    r"|/(?:pull|issues|pulls|merge_requests|pull-requests)/(?P<url_num>\d{1,7})\b"
    r"|(?<![\w!])!(?P<mr>\d{1,7})\b"
    r"|(?P<jira>\b[A-Z][A-Z0-9]{1,9}-\d{1,6}\b)"
)
# Every reference holds one of these ("#1", "GH-1", ".../pull/1", "!1", "LANG-1", ":issue:`1`", "GHSA-..."), no
# two of them can overlap, and no reference spans a line or holds a space before it: the long pattern is tried
# only from the word of such a mark to the end of its line (long pull request bodies mostly hold none).
# Written to start with a class of characters, which lets the search skip to the next of them at C speed; the
# same marks as "[#!/-]\d|[:}]`|(?i:ghsa)" ("\u017f", the long s, is an s ignoring case).
_MARK = re.compile("[#!/:}gG-](?:(?<=[#!/-])\\d|(?<=[:}])`|(?<=[gG])[hH][sS\u017f][aA])")
_NOT_JIRA = re.compile(r"^(UTF|ISO|SHA|MD|RFC|PEP|CVE|GHSA|X|ES|TLS|SSL|HTTP|PHP|PSR|IEEE|ANSI|GH|WIP|CWE|TODO|"
                       r"[A-Z])-", re.I)


def _matches(text: str) -> Iterator[re.Match[str]]:
    """What ``_REF.finditer(text)`` finds, the pattern searched only where a reference may start: from the word
    holding the next mark (after the last match) to the end of that line."""
    pos = 0
    for mark in _MARK.finditer(text):
        at = mark.start()
        if at < pos:
            continue
        end = text.find("\n", at)
        if end < 0:
            end = len(text)
        # a search that starts later still sees the text before it (lookbehinds, word boundaries)
        m = _REF.search(text, max(pos, text.rfind("\n", 0, at) + 1, text.rfind(" ", 0, at) + 1), end)
        if m is None:
            pos = end  # no reference in the rest of this line
            continue
        pos = m.end()
        yield m


def find_refs(text: str) -> tuple[str, ...]:
    """The references in ``text``, normalised (see the table above), in order of appearance, no duplicates."""
    if not text:
        return ()
    out: list[str] = []
    seen: set[str] = set()

    def add(ref: str) -> None:
        if ref not in seen:
            seen.add(ref)
            out.append(ref)

    for m in _matches(text):
        kind = m.lastgroup
        if kind == "ghsa":
            add("GHSA-" + m.group("ghsa")[5:].lower())
        elif kind == "ghsa_role":
            add("GHSA-" + m.group("ghsa_role").lower())
        elif kind == "cve":
            add(m.group("cve").upper())
        elif kind == "cve_role":
            add("CVE-" + m.group("cve_role"))
        elif kind == "role":
            for number in re.findall(r"\d+", m.group("role")):
                add(f"#{int(number)}")
        elif kind in ("xnum", "xrepo"):
            add(f"{m.group('xrepo')}#{int(m.group('xnum'))}")
        elif kind == "num":
            add(f"#{int(m.group('num'))}")
        elif kind == "url_num":
            add(f"#{int(m.group('url_num'))}")
        elif kind == "mr":
            add(f"!{int(m.group('mr'))}")
        elif kind == "jira":
            key = m.group("jira")
            if not _NOT_JIRA.match(key):
                add(key)
    return tuple(out)


def ref_numbers(refs: tuple[str, ...] | list[str]) -> frozenset[int]:
    """The local issue / pull-request numbers among normalised refs (``#123`` and ``!12``)."""
    return frozenset(int(r[1:]) for r in refs if r[:1] in "#!" and r[1:].isdigit())


def advisory_ids(refs: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The GHSA and CVE identifiers among normalised refs."""
    return tuple(r for r in refs if r.startswith(("GHSA-", "CVE-")))


_SUBJECT_PR = re.compile(r"\((?:#|GH-|!)(\d{1,7})\)\s*$|^Merge pull request #(\d{1,7}) from |"
                         r"^Merge branch '[^']+' into '[^']+'.*?!(\d{1,7})", re.I)
_BODY_MR = re.compile(r"See merge request [\w./-]*!(\d{1,7})")


def pr_number_of_subject(subject: str, body: str = "") -> int | None:
    """The pull/merge request a commit message says it is: ``... (#123)``, ``Merge pull request #123 from``,
    GitLab's ``See merge request group/project!123``."""
    m = _SUBJECT_PR.search(subject.strip())
    if m:
        return int(next(g for g in m.groups() if g))
    m = _BODY_MR.search(body)
    return int(m.group(1)) if m else None
