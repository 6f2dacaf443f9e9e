"""Weekly digests: one report per week (``2026-W47.md``/``.html``) and a browsable index, written idempotently.

A week starts at midnight of ``digest.week_start`` (Monday by default) in the configured ``timezone`` and is
named after the ISO week that holds most of its days (for a Monday start: exactly the ISO week). Each digest
is the same content model as ``narrate report`` (``app.report.build`` over the week's window, which also
compares it with the previous week) on one session, so the repository is opened once and a model is loaded at
most once; the HTML and Markdown digest templates extend the report templates with a header and links.

Re-running is cheap and idempotent: a small manifest (``.narrator-digests.json`` in the output directory)
remembers, per week, a hash of the week's commit shas and when the digest was written. A week is rendered
again with its old timestamp and written only when the result differs from the file on disk (or its commits
changed: a rewritten history). Every file is written atomically. Weeks after the current one are never
written; commits dated after "now" (a wrong clock) are mentioned in the current week's digest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Mapping, Sequence

from narrator.app.report import ReportRequest, build
from narrator.app.session import Session
from narrator.config import Settings
from narrator.errors import NarratorError, OutputError, UsageError
from narrator.git.history import commits_after, dominant_offset, first_commit_time
from narrator.git.walker import WalkSpec, list_commits
from narrator.report.output import write_atomic
from narrator.report.render import render_digest, render_index
from narrator.timespec import Window, check_window, current_time, fixed_zone, parse_when, resolve_timezone

log = logging.getLogger(__name__)

MANIFEST_NAME = ".narrator-digests.json"
MANIFEST_VERSION = 1
FORMATS = ("md", "html")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class DigestError(OutputError):
    """Digests cannot be written as asked."""


# -- weeks ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Week:
    """One digest week: ``start`` inclusive, ``end`` exclusive, both aware datetimes in the digest timezone."""

    start: datetime
    end: datetime

    @property
    def iso(self) -> tuple[int, int]:
        year, week, _ = (self.start.date() + timedelta(days=3)).isocalendar()
        return year, week

    @property
    def name(self) -> str:
        year, week = self.iso
        return f"{year}-W{week:02d}"

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    @property
    def until(self) -> datetime:
        return self.end - timedelta(microseconds=1)

    def label(self) -> str:
        """"16 to 22 November 2026" (months and years only where they differ)."""
        first, last = self.start.date(), self.last_day
        if first.year != last.year:
            return f"{first.day} {first:%B} {first.year} to {last.day} {last:%B} {last.year}"
        if first.month != last.month:
            return f"{first.day} {first:%B} to {last.day} {last:%B} {last.year}"
        return f"{first.day} to {last.day} {last:%B} {last.year}"


def week_start_index(name: str) -> int:
    value = (name or "monday").strip().lower()
    for index, day in enumerate(WEEKDAYS):
        if value in (day, day[:3]):
            return index
    raise UsageError(f"digest.week_start '{name}' is not a day of the week; use e.g. monday or sunday")


def week_of(moment: datetime, tz: tzinfo, start_day: int = 0) -> Week:
    """The week containing ``moment``: it starts at local midnight of weekday ``start_day`` (0 = Monday)."""
    local = moment.astimezone(tz).date()
    first = local - timedelta(days=(local.weekday() - start_day) % 7)
    return _week_from(first, tz)


def _week_from(first: date, tz: tzinfo) -> Week:
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(first + timedelta(days=7), time.min, tzinfo=tz)
    return Week(start, end)


def last_weeks(current: Week, count: int, tz: tzinfo, first: datetime | None) -> tuple[list[Week], int]:
    """The ``count`` weeks ending with ``current``, oldest first, without those that end before ``first`` (the
    first commit) or would start before the calendar does; returns them and how many were left out.

    Built back from ``current`` only as far as the history goes, so ``--weeks 99999999999`` is as quick as
    ``--weeks 2`` on a young repository (and never steps below year 1).
    """
    weeks = [current]
    while len(weeks) < count:
        if first is not None and weeks[0].start <= first:
            break  # the week before ends where this one starts: before the first commit
        try:
            earlier = _week_from(weeks[0].start.date() - timedelta(days=7), tz)
        except OverflowError:
            break
        weeks.insert(0, earlier)
    return weeks, count - len(weeks)


def digest_weeks(request: DigestRequest, settings: Any, now: datetime, tz: tzinfo, first: datetime | None
                 ) -> tuple[list[Week], int]:
    """The weeks a digest writes, oldest first: those of ``--since``/``--until``, else the last ``--weeks`` (the
    setting by default); none that ends before the first commit (``first``) or starts after ``now`` (never a
    digest of a week that has not started). And how many were left out as before the history."""
    start_day = week_start_index(settings.digest.week_start)
    left_out = 0
    if request.since or request.until:
        if request.weeks is not None:
            raise UsageError("--weeks and --since/--until cannot be used together")
        since = parse_when(request.since or "1w", edge="since", now=now, tz=tz)
        until = parse_when(request.until, edge="until", now=now, tz=tz) if request.until else now
        check_window(since, until)
        weeks = weeks_between(since, min(until, now), tz, start_day) if since <= now else []
    else:
        count = request.weeks if request.weeks is not None else settings.digest.weeks
        if count < 1:
            raise UsageError("--weeks must be at least 1")
        weeks, left_out = last_weeks(week_of(now, tz, start_day), count, tz, first)
    if first is not None:
        kept = [w for w in weeks if w.end > first]
        left_out += len(weeks) - len(kept)
        weeks = kept
    return [w for w in weeks if w.start <= now], left_out


def weeks_between(since: datetime, until: datetime, tz: tzinfo, start_day: int = 0) -> list[Week]:
    """Every week overlapping [since, until], oldest first."""
    week = week_of(since, tz, start_day)
    last = week_of(until, tz, start_day)
    out = []
    while week.start <= last.start:
        out.append(week)
        week = _week_from(week.start.date() + timedelta(days=7), tz)
    return out


# -- request / result -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DigestRequest:
    weeks: int | None = None  # how many weeks back, the current one included
    since: str | None = None
    until: str | None = None
    out_dir: str | None = None  # None: digest.out_dir from the config (then never inside the repository)
    formats: tuple[str, ...] = ()
    engine: str | None = None
    detail: str | None = None  # None: report.detail from the settings


@dataclass(frozen=True)
class WeekOutcome:
    name: str
    label: str
    action: str  # "written", "unchanged"
    files: tuple[str, ...]
    commits: int
    in_progress: bool
    quiet: bool
    headline: str
    requested: bool = True  # False: an earlier week refreshed for its links or its finished state
    report: Any = field(default=None, compare=False, repr=False)  # the week's Report (for delivery)


@dataclass
class DigestResult:
    out_dir: Path
    weeks: list[WeekOutcome] = field(default_factory=list)
    index_files: list[str] = field(default_factory=list)
    index_written: bool = False
    skipped_before_history: int = 0
    future_commits: int = 0


# -- output directory and manifest ----------------------------------------------------------------------

def resolve_out_dir(request: DigestRequest, settings: Settings, repo_root: str, cwd: Path | None = None) -> Path:
    """The digest directory: ``--out`` as given, else ``digest.out_dir`` relative to the current directory.

    Writing inside the analysed repository needs an explicit ``--out``: narrator never writes there otherwise.
    """
    cwd = cwd or Path.cwd()
    raw = request.out_dir if request.out_dir is not None else settings.digest.out_dir
    if not raw.strip():
        raise UsageError("the digest output directory is empty; pass --out DIR or set digest.out_dir")
    out = Path(raw).expanduser()
    out = out if out.is_absolute() else cwd / out
    out = Path(os.path.abspath(out))
    real_out = Path(os.path.realpath(out))
    real_repo = Path(os.path.realpath(repo_root))
    inside = real_out == real_repo or real_repo in real_out.parents
    if inside and request.out_dir is None:
        raise DigestError(
            f"the digest directory {out} (digest.out_dir) is inside the analysed repository {repo_root}; narrator "
            f"does not write there unless asked: pass --out {raw} to confirm, or choose a directory outside it")
    if out.exists() and not out.is_dir():
        raise DigestError(f"--out {out} is a file, not a directory; give a directory for the digests")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DigestError(f"cannot create {out}: {parent} is a file, not a directory")
            break
    return out


def _read_manifest(out: Path) -> dict[str, Any]:
    path = out / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": MANIFEST_VERSION, "weeks": {}}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable digest manifest %s: %s", path, exc)
        return {"version": MANIFEST_VERSION, "weeks": {}}
    if not isinstance(data, dict) or not isinstance(data.get("weeks"), dict):
        return {"version": MANIFEST_VERSION, "weeks": {}}
    return data


def _write_if_changed(path: Path, text: str) -> bool:
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeError):
        pass
    try:
        write_atomic(path, text)
    except OutputError as exc:
        raise DigestError(f"cannot write the digest {path}: {exc}; check --out") from None
    return True


# -- the run ----------------------------------------------------------------------------------------------

def _parse_formats(formats: Sequence[str], settings: Settings) -> tuple[str, ...]:
    chosen = [f.strip().lower() for f in (formats or settings.digest.formats) if f.strip()]
    bad = [f for f in chosen if f not in FORMATS]
    if bad or not chosen:
        raise UsageError(f"digest format '{', '.join(bad) or '(none)'}' is not supported; choose from md, html "
                         "(e.g. --format md,html)")
    return tuple(dict.fromkeys(chosen))


def _shas_hash(shas: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(shas)).encode("ascii")).hexdigest()[:24]


def _entry_for_index(name: str, data: Mapping[str, Any], formats: Sequence[str]) -> dict[str, Any]:
    return {"name": name, "label": data.get("label", name), "headline": data.get("headline", ""),
            "commits": int(data.get("commits", 0)), "in_progress": bool(data.get("in_progress")),
            "quiet": bool(data.get("quiet")), "files": {f: f"{name}.{f}" for f in formats},
            "week": data.get("week", name)}


def _digest_zone(session: Session) -> tzinfo:
    """The configured zone; by default (``repository``) the offset most of the last 500 commits were made with,
    so that weeks are cut where the team's days end."""
    setting = session.settings.timezone
    if setting != "repository":
        return resolve_timezone(setting)
    offset = dominant_offset(session.repo, None, None, limit=500, index=session.history()) \
        if session.repo.has_commits() else None
    return fixed_zone(offset) if offset is not None else resolve_timezone("local")


def write_digests(session: Session, request: DigestRequest, now: datetime | None = None,
                  cwd: Path | None = None) -> DigestResult:
    """Write the asked weeks' digests and the index into the output directory; return what was done."""
    repo, settings = session.repo, session.settings
    if repo.bare:
        raise UsageError(f"{repo.root} is a bare repository; digests need a work tree clone")
    formats = _parse_formats(request.formats, settings)
    out = resolve_out_dir(request, settings, repo.root, cwd)
    tz = _digest_zone(session)
    start_day = week_start_index(settings.digest.week_start)
    detail = request.detail or settings.report.detail
    now = (now or current_time(tz)).astimezone(tz)
    current = week_of(now, tz, start_day)
    if not repo.has_commits():
        raise NarratorError(f"repository {repo.root} has no commits yet: nothing to digest")
    repo.resolve("HEAD")

    weeks, skipped = digest_weeks(request, settings, now, tz, first_commit_time(repo))
    result = DigestResult(out_dir=out, skipped_before_history=skipped)
    if not weeks and result.skipped_before_history == 0:
        raise UsageError("no week to digest in that window (it is in the future)")
    future_count, future_latest = commits_after(repo, now)
    result.future_commits = future_count

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DigestError(f"cannot create the digest directory {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK):
        raise DigestError(f"the digest directory {out} is not writable; fix its permissions or choose another --out")
    manifest = _read_manifest(out)
    if manifest.get("repository_key") not in (None, repo.key) and manifest["weeks"]:
        raise DigestError(f"{out} already holds digests of another repository ({manifest.get('repository')}); "
                          "choose another --out directory")
    manifest.update({"version": MANIFEST_VERSION, "repository": repo.name, "repository_key": repo.key})
    recorded: dict[str, Any] = manifest["weeks"]

    # Weeks written before are refreshed too when they need it: finished since they were written "in
    # progress", their commits changed (a rewritten history), or they are the neighbour of a new week
    # (their "next" link). Unchanged ones cost a render and no write.
    requested = {w.name for w in weeks}
    by_name = {w.name: w for w in weeks}
    for name, data in recorded.items():
        try:
            old_week = Week(datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]))
        except (KeyError, TypeError, ValueError):
            continue
        if old_week.name == name and name not in by_name and old_week.start <= now:
            by_name[name] = old_week
    span_weeks = sorted(by_name.values(), key=lambda w: w.start)
    if span_weeks:
        span = WalkSpec(since=span_weeks[0].start - timedelta(days=7), until=span_weeks[-1].until)
        listed = list_commits(repo, span, index=session.history())
    else:
        listed = []
    names_after = sorted(by_name)
    refresh = set(requested)
    for name, week in by_name.items():
        if name in requested:
            continue
        data = recorded[name]
        shas = [s for s, when in listed if week.start <= when < week.end]
        position = names_after.index(name)
        neighbour_new = position + 1 < len(names_after) and names_after[position + 1] not in recorded
        if (data.get("in_progress") and name != current.name) or data.get("shas") != _shas_hash(shas) \
                or neighbour_new:
            refresh.add(name)
    weeks = sorted((by_name[n] for n in refresh), key=lambda w: w.start)
    if weeks:  # read the facts once for the whole range (into the cache); each week's build then reads it
        # (and the files of the merges that week needs: a merge whose branch is in the week adds nothing)
        session.facts([s for s, when in listed if when >= weeks[0].start - timedelta(days=7)], merge_files=False)

    all_names = sorted(set(recorded) | {w.name for w in weeks})
    for week in weeks:
        shas = [s for s, when in listed if week.start <= when < week.end]
        in_progress = week.name == current.name
        title = f"{repo.name} \u2014 weekly digest, week {week.iso[1]} of {week.iso[0]}"
        window = Window(week.start, week.until, tz, settings.timezone if settings.timezone not in ("local", "repository")
                        else str(now.tzname() or "local"))
        report = build(session, ReportRequest(engine=request.engine, title=title), now=now, window=window)
        if in_progress and future_count:
            latest = future_latest.astimezone(tz).date().isoformat() if future_latest else "later"
            report.notes.append(
                f"{future_count} commit{'s are' if future_count != 1 else ' is'} dated after this digest was made "
                f"(latest {latest}), probably from a computer with a wrong clock; they will be counted in the week "
                "their date falls in.")
        position = all_names.index(week.name)
        digest = {
            "name": week.name, "year": week.iso[0], "week": week.iso[1], "label": week.label(),
            "in_progress": in_progress, "quiet": report.empty, "ends": f"{week.last_day:%A} {week.last_day.day} "
            f"{week.last_day:%B}", "commits": report.numbers.commits,
            "prev": all_names[position - 1] if position > 0 else "",
            "next": all_names[position + 1] if position + 1 < len(all_names) else "",
            "formats": list(formats),
        }
        shas_hash = _shas_hash(shas)
        old = recorded.get(week.name) or {}
        keep_stamp = old.get("shas") == shas_hash and old.get("generated_at")
        wrote: list[str] = []
        if keep_stamp:
            pinned = replace(report, generated_at=datetime.fromisoformat(old["generated_at"]))
            texts = {fmt: render_digest(pinned, fmt, digest, detail) for fmt in formats}
            for fmt, text in texts.items():
                if _write_if_changed(out / f"{week.name}.{fmt}", text):
                    wrote.append(fmt)
            stamp = old["generated_at"]
            if wrote:  # something changed (template, neighbours, narrations): date it now
                texts = {fmt: render_digest(report, fmt, digest, detail) for fmt in formats}
                for fmt, text in texts.items():
                    _write_if_changed(out / f"{week.name}.{fmt}", text)
                wrote = list(formats)
                stamp = report.generated_at.isoformat()
        else:
            for fmt in formats:
                _write_if_changed(out / f"{week.name}.{fmt}", render_digest(report, fmt, digest, detail))
            wrote = list(formats)
            stamp = report.generated_at.isoformat()
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

    entries = [_entry_for_index(name, recorded[name], recorded[name].get("formats", formats))
               for name in sorted(recorded, reverse=True)
               if all((out / f"{name}.{fmt}").exists() for fmt in recorded[name].get("formats", formats))]
    for fmt in formats:
        index_path = out / f"index.{fmt}"
        if _write_if_changed(index_path, render_index(entries, fmt, repo.name)):
            result.index_written = True
        result.index_files.append(str(index_path))
    _write_if_changed(out / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return result
