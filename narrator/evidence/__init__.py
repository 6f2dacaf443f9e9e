"""What the repository itself says about a change: evidence that later stages use to judge what matters.

Pure functions over plain data (no git calls, no cache, no printing); each module has one job:

- ``patch``      unified diff text -> ``FilePatch`` records (hunks, added/removed lines with numbers)
- ``paths``      ``path_kind(path)``: source, test, docs, changelog, ci, tooling, dependencies, generated, ...
- ``refs``       ``#123``, ``GH-12``, GHSA/CVE ids and tracker keys in text, normalised
- ``clean``      Markdown/reST -> plain text without ever rewriting inside a token
- ``changelog``  changelog files and news fragments; the entries a commit adds, with kind/section/version
- ``match``      entries of a release's changelog commit -> the commits they describe (number, then text)
- ``signals``    code signals (API/option/env removed, default/exit code changed, deprecations) and security markers
- ``forge``      commit/PR/issue/tag/compare links from the ``origin`` URL (GitHub, GitLab, Bitbucket, Gitea)
- ``commit``     ``gather(...)`` -> ``CommitEvidence`` for one commit
- ``importance`` ``score``/``explain``: a documented, deterministic importance with plain reasons
- ``themes``     related commits grouped into themes
- ``describe``   the best human text for a commit
- ``sharing``    ``shared(table, value)``: one object per distinct frozen value (memory of long windows)

Import the submodules directly (``from narrator.evidence.paths import path_kind``); nothing is re-exported
here so that importing one piece stays cheap.

Everything here is deterministic in its inputs, so a ``commit.CommitEvidence`` can be cached per commit:
``EVIDENCE_VERSION`` belongs in such a cache key and changes whenever a rule changes what is found.
"""

EVIDENCE_VERSION = "12"  # 12: code quoted in prose or comments deprecates nothing (11: step definitions in a file of features/ are tests (10: short reference roles dropped)
