"""Weekly digests of a team: one digest per week covering every repository, and an index, written idempotently.

The weeks are cut as ``narrator.app.digest`` cuts them (``digest.week_start`` of the user's config, in the zone
most of the repositories would use alone); each week is one team report (``narrator.app.team.build_team``
over the week's window: each repository read with its own settings, people counted once) rendered with the
team digest templates (``team_digest.*.j2`` extend ``team.*.j2``). The output directory holds one team's
digests: its manifest remembers the team (the sorted repository keys) and, per week, a hash of every
repository's commit shas, so a rerun rewrites nothing that did not change and keeps the old timestamps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from narrator.app.digest import (
    MANIFEST_NAME, MANIFEST_VERSION, DigestError, DigestRequest, DigestResult, Week, WeekOutcome, _digest_zone,
    _entry_for_index, _parse_formats, _read_manifest, _shas_hash, _write_if_changed, resolve_out_dir,
    digest_weeks, week_of, week_start_index,
)
from narrator.app.report import ReportRequest
from narrator.app.team import Team, TeamRequest, build_team
from narrator.errors import NarratorError, UsageError
from narrator.git.history import first_commit_time
from narrator.report.render import render_index
from narrator.report.team import TeamReport, render_team
from narrator.timespec import Window, current_time

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeamDigestRequest:
    digest: DigestRequest
    workspace: str = ""


def _team_key(team: Team) -> str:
    return hashlib.sha1("\n".join(sorted(m.session.repo.key for m in team.members)).encode()).hexdigest()[:20]


def _team_name(team: Team, workspace: str) -> str:
    return workspace or ", ".join(m.name for m in team.members)


def _zone(team: Team) -> Any:
    zones = Counter()
    first: dict[str, Any] = {}
    for member in team.members:
        try:
            tz = _digest_zone(member.session)
        except NarratorError:
            continue
        zones[str(tz)] += 1
        first.setdefault(str(tz), tz)
    if not zones:
        from narrator.timespec import resolve_timezone

        return resolve_timezone("local")
    best = max(zones.values())
    return next(first[name] for name in first if zones[name] == best)


def _shas(report: TeamReport) -> list[str]:
    return [c.sha for s in report.repositories for c in s.report.commits]


def write_team_digests(team: Team, request: TeamDigestRequest, now: datetime | None = None,
                       cwd: Path | None = None) -> tuple[DigestResult, list[TeamReport]]:
    """Write the asked weeks' team digests and the index; return what was done and each written week's report."""
    settings = team.settings
    digest_request = request.digest
    formats = _parse_formats(digest_request.formats, settings)
    if not team.members:
        reasons = "; ".join(f"{p.name}: {p.reason}" for p in team.problems)
        raise NarratorError(f"no repository could be read ({reasons})")
    out = None
    for member in team.members:  # never inside any of the analysed repositories unless --out says so
        out = resolve_out_dir(digest_request, settings, member.session.repo.root, cwd)
    assert out is not None
    tz = _zone(team)
    start_day = week_start_index(settings.digest.week_start)
    detail = digest_request.detail or settings.report.detail
    now = (now or current_time(tz)).astimezone(tz)
    current = week_of(now, tz, start_day)
    firsts = [t for t in (first_commit_time(m.session.repo) for m in team.members if m.session.repo.has_commits())
              if t is not None]
    weeks, skipped = digest_weeks(digest_request, settings, now, tz, min(firsts) if firsts else None)
    result = DigestResult(out_dir=out, skipped_before_history=skipped)
    if not weeks and result.skipped_before_history == 0:
        raise UsageError("no week to digest in that window (it is in the future)")

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DigestError(f"cannot create the digest directory {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK):
        raise DigestError(f"the digest directory {out} is not writable; fix its permissions or choose another --out")
    name, key = _team_name(team, request.workspace), _team_key(team)
    manifest = _read_manifest(out)
    if manifest.get("repository_key") not in (None, key) and manifest["weeks"]:
        raise DigestError(f"{out} already holds digests of another repository or team ({manifest.get('repository')});"
                          " choose another --out directory")
    manifest.update({"version": MANIFEST_VERSION, "repository": name, "repository_key": key, "team": True})
    recorded: dict[str, Any] = manifest["weeks"]

    requested = {w.name for w in weeks}
    by_name = {w.name: w for w in weeks}
    for week_name, data in recorded.items():  # earlier weeks: refreshed when finished since, or for a new link
        try:
            old = Week(datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]))
        except (KeyError, TypeError, ValueError):
            continue
        if old.name != week_name or week_name in by_name or old.start > now:
            continue
        newer = sorted(n for n in set(recorded) | requested if n > week_name)
        neighbour_new = bool(newer) and newer[0] not in recorded
        if (data.get("in_progress") and week_name != current.name) or neighbour_new:
            by_name[week_name] = old
    todo = sorted(by_name.values(), key=lambda w: w.start)
    all_names = sorted(set(recorded) | {w.name for w in todo})
    reports: list[TeamReport] = []
    zone_name = settings.timezone if settings.timezone not in ("local", "repository") else str(now.tzname() or "local")
    for week in todo:
        in_progress = week.name == current.name
        title = f"{name} \u2014 weekly digest, week {week.iso[1]} of {week.iso[0]}"
        window = Window(week.start, week.until, tz, zone_name)
        report = build_team(team, TeamRequest(repos=(), report=ReportRequest(engine=digest_request.engine),
                                              workspace=request.workspace), now=now, window=window, title=title)
        position = all_names.index(week.name)
        digest = {
            "name": week.name, "year": week.iso[0], "week": week.iso[1], "label": week.label(),
            "in_progress": in_progress, "quiet": report.empty,
            "ends": f"{week.last_day:%A} {week.last_day.day} {week.last_day:%B}", "commits": report.numbers.commits,
            "prev": all_names[position - 1] if position > 0 else "",
            "next": all_names[position + 1] if position + 1 < len(all_names) else "", "formats": list(formats),
        }
        shas_hash = _shas_hash(_shas(report))
        old = recorded.get(week.name) or {}
        stamp = report.generated_at.isoformat()
        wrote = False
        if old.get("shas") == shas_hash and old.get("generated_at"):
            pinned = replace(report, generated_at=datetime.fromisoformat(old["generated_at"]))
            for fmt in formats:
                wrote |= _write_if_changed(out / f"{week.name}.{fmt}", _render(pinned, fmt, digest, detail))
            if wrote:  # the content changed (template, neighbours, narrations): date it now
                for fmt in formats:
                    _write_if_changed(out / f"{week.name}.{fmt}", _render(report, fmt, digest, detail))
            else:
                stamp, report = old["generated_at"], pinned
        else:
            for fmt in formats:
                _write_if_changed(out / f"{week.name}.{fmt}", _render(report, fmt, digest, detail))
            wrote = True
        recorded[week.name] = {
            "label": week.label(), "start": week.start.isoformat(), "end": week.end.isoformat(),
            "headline": report.headline, "commits": report.numbers.commits, "in_progress": in_progress,
            "quiet": report.empty, "shas": shas_hash, "generated_at": stamp, "formats": list(formats),
        }
        result.weeks.append(WeekOutcome(
            name=week.name, label=week.label(), action="written" if wrote else "unchanged",
            files=tuple(str(out / f"{week.name}.{fmt}") for fmt in formats), commits=report.numbers.commits,
            in_progress=in_progress, quiet=report.empty, headline=report.headline,
            requested=week.name in requested, report=report))
        reports.append(report)

    entries = [_entry_for_index(n, recorded[n], recorded[n].get("formats", formats))
               for n in sorted(recorded, reverse=True)
               if all((out / f"{n}.{fmt}").exists() for fmt in recorded[n].get("formats", formats))]
    for fmt in formats:
        index_path = out / f"index.{fmt}"
        if _write_if_changed(index_path, render_index(entries, fmt, name)):
            result.index_written = True
        result.index_files.append(str(index_path))
    _write_if_changed(out / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return result, reports


def _render(report: TeamReport, fmt: str, digest: dict[str, Any], detail: str) -> str:
    return render_team(report, fmt, detail, extra={"digest": digest}, template=f"team_digest.{fmt}.j2")
