"""Turning ``--since``/``--until`` words into timezone-aware datetimes.

Accepted: durations ``2w``, ``10d``, ``36h``, ``90m``, ``3mo``, ``1y`` (ago from now); ``now``, ``today``,
``yesterday``; ``last monday`` .. ``last sunday``, ``last week``, ``last month``; ISO dates and times
(``2026-11-01``, ``2026-11-01T09:30``, ``2026-11-01 09:30:00+02:00``). A date without a time means the
start of that day for ``--since`` and its end (inclusive) for ``--until``; times without an offset are in
the configured timezone.

``--compare-with PERIOD`` (``parse_period``): ``previous`` (the period of the same length just before),
``previous-year`` (the same dates a year before), ``none``, a year ``2025``, a quarter ``2026-Q1``, a month
``2026-03``, an ISO week ``2026-W05``, a day ``2026-03-15`` or a range ``2026-01-01..2026-02-15`` (each side
any ``--since``/``--until`` value). It must end before the report's window starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Literal

from narrator.errors import TimeSpecError

_DURATION = re.compile(r"^\s*(\d+)\s*(mo|months?|y|years?|w|weeks?|d|days?|h|hours?|m|min|minutes?)\s*(ago)?\s*$", re.I)
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "mi": "minutes"}

Edge = Literal["since", "until"]


def fixed_zone(minutes: int) -> tzinfo:
    """A fixed UTC offset (a repository's own time), named like ``UTC-08:00``."""
    from datetime import timezone

    if minutes == 0:
        return timezone.utc
    sign = "-" if minutes < 0 else "+"
    return timezone(timedelta(minutes=minutes), f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}")


def resolve_timezone(name: str | None) -> tzinfo:
    """``local`` (or empty) -> the machine's zone; otherwise an IANA name such as ``Europe/Paris`` or ``UTC``.

    (``repository``, the default setting, is resolved by the use cases from the commits themselves.)"""
    if not name or name in ("local", "repository"):
        return datetime.now().astimezone().tzinfo  # type: ignore[return-value]
    if name.upper() in ("UTC", "Z"):
        from datetime import timezone

        return timezone.utc
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:
        raise TimeSpecError(f"unknown timezone '{name}'; use an IANA name such as Europe/Paris, or 'local'") from None


def current_time(tz: tzinfo | None = None) -> datetime:
    """Now, in ``tz``; ``SOURCE_DATE_EPOCH`` (the reproducible-builds convention) pins it for golden tests."""
    import os

    pinned = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if pinned:
        try:
            from datetime import timezone

            moment = datetime.fromtimestamp(int(pinned), tz=timezone.utc)
            return moment.astimezone(tz) if tz is not None else moment.astimezone()
        except (ValueError, OverflowError, OSError):
            raise TimeSpecError(f"SOURCE_DATE_EPOCH={pinned!r} is not a Unix timestamp") from None
    return datetime.now(tz) if tz is not None else datetime.now().astimezone()


def _day_edge(day: date, edge: Edge, tz: tzinfo) -> datetime:
    if edge == "since":
        return datetime.combine(day, time.min, tzinfo=tz)
    return datetime.combine(day, time.max, tzinfo=tz)


def parse_when(text: str, *, edge: Edge = "since", now: datetime | None = None, tz: tzinfo | None = None) -> datetime:
    """Parse one --since/--until value; raise ``TimeSpecError`` with the accepted forms when it fails.

    Dates at the ends of the calendar (``0001-01-01``, ``9999-12-31``) are clamped to ``EARLIEST``/``LATEST``:
    they mean "from the beginning" and "up to the end".
    """
    try:
        return _in_range(_parse_when(text, edge, now, tz))
    except OverflowError:
        raise TimeSpecError(f"--{edge} '{text}' is too far from today; give a date between the years 1 and 9999") \
            from None


def _parse_when(text: str, edge: Edge, now: datetime | None, tz: tzinfo | None) -> datetime:
    tz = tz or resolve_timezone("local")
    now = (now or current_time(tz)).astimezone(tz)
    raw = text
    text = text.strip().lower()
    if not text:
        raise TimeSpecError(f"empty --{edge} value; {_HINT}")
    match = _DURATION.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        if unit.startswith("mo") or unit.startswith("y"):
            months = amount if unit.startswith("mo") else 12 * amount
            try:
                return _months_ago(now, months)
            except TimeSpecError:
                raise TimeSpecError(f"--{edge} '{raw}' is too far in the past") from None
        key = "mi" if unit.startswith("mi") else unit[0]
        try:
            return now - timedelta(**{_UNITS[key]: amount})
        except OverflowError:
            raise TimeSpecError(f"--{edge} '{raw}' is too far in the past") from None
    if text == "now":
        return now
    if text == "today":
        return _day_edge(now.date(), edge, tz)
    if text == "yesterday":
        return _day_edge(now.date() - timedelta(days=1), edge, tz)
    if text.startswith("last "):
        word = text[5:].strip()
        if word in _WEEKDAYS:
            back = (now.weekday() - _WEEKDAYS.index(word)) % 7 or 7
            return _day_edge(now.date() - timedelta(days=back), edge, tz)
        if word == "week":
            return now - timedelta(weeks=1)
        if word == "month":
            return _months_ago(now, 1)
        if word == "year":
            return _months_ago(now, 12)
    return _parse_iso(raw.strip(), edge, tz)


def _months_ago(now: datetime, months: int) -> datetime:
    year, month = divmod(now.month - 1 - months, 12)
    year += now.year
    if year < 1:
        raise TimeSpecError("that date is too far in the past")
    month += 1
    day = min(now.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30,
                        31, 31, 30, 31, 30, 31][month - 1])
    return now.replace(year=year, month=month, day=day)


_HINT = "use e.g. 2w, 10d, 36h, yesterday, 'last monday', 2026-11-01 or 2026-11-01T09:30"


def _parse_iso(text: str, edge: Edge, tz: tzinfo) -> datetime:
    candidate = text.replace("Z", "+00:00").replace("z", "+00:00")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", candidate):
        try:
            return _day_edge(date.fromisoformat(candidate), edge, tz)
        except ValueError:
            raise TimeSpecError(f"'{text}' is not a valid date; {_HINT}") from None
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise TimeSpecError(f"cannot understand --{edge} '{text}'; {_HINT}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


# The instants narrator works between: a day inside Python's calendar at both ends, so that a date in any
# timezone still converts to UTC and back. No commit lies outside; values beyond are clamped to these.
EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=timezone.utc)


def _utc_seconds(moment: datetime) -> int:
    """Seconds since 0001-01-01 UTC, in integers (no datetime arithmetic, so nothing can overflow)."""
    offset = moment.utcoffset() or timedelta(0)
    return (moment.toordinal() * 86400 + moment.hour * 3600 + moment.minute * 60 + moment.second
            - int(offset.total_seconds()))


def _in_range(moment: datetime) -> datetime:
    """``moment`` clamped to [EARLIEST, LATEST], in its own zone (no commit lies outside)."""
    if _utc_seconds(moment) < _utc_seconds(EARLIEST):
        return EARLIEST.astimezone(moment.tzinfo)
    if _utc_seconds(moment) > _utc_seconds(LATEST):
        return LATEST.astimezone(moment.tzinfo)
    return moment


def check_window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise TimeSpecError(
            f"--since ({since.isoformat(timespec='minutes')}) is after --until ({until.isoformat(timespec='minutes')})"
        )


@dataclass(frozen=True)
class Window:
    """A report's period: ``since`` (None: from the first commit) to ``until`` inclusive, in zone ``tz``."""

    since: datetime | None
    until: datetime
    tz: tzinfo
    tz_name: str

    def previous(self) -> "Window | None":
        """The period of the same length just before this one (None when this one has no start, or when it
        starts at the beginning of the calendar); it never starts before ``EARLIEST``."""
        if self.since is None or self.since <= EARLIEST:
            return None
        end = self.since - timedelta(microseconds=1)
        length = self.until - self.since
        start = EARLIEST.astimezone(self.tz) if length >= self.since - EARLIEST else self.since - length
        return Window(start, end, self.tz, self.tz_name)


DEFAULT_SINCE = "2w"


def resolve_window(since: str | datetime | None, until: str | datetime | None, tz_name: str,
                   now: datetime | None = None, tz: tzinfo | None = None) -> Window:
    """The window for ``--since``/``--until`` words (or datetimes) in the named timezone (default: the last 2w);
    ``tz`` given: that zone, named ``tz_name``."""
    if tz is None:
        tz = resolve_timezone(tz_name)
    elif tz_name in ("", "local", "repository"):
        tz_name = str(tz)
    now = (now or current_time(tz)).astimezone(tz)
    until_dt = until if isinstance(until, datetime) else (parse_when(until, edge="until", now=now, tz=tz)
                                                          if until else now)
    # Relative starts ("3mo", "2w", "last monday") count back from the end of the window, not from today.
    anchor = min(until_dt.astimezone(tz), now) if until else now
    since_dt = since if isinstance(since, datetime) else parse_when(since or DEFAULT_SINCE, edge="since",
                                                                    now=anchor, tz=tz)
    check_window(since_dt, until_dt)
    return Window(since_dt, until_dt, tz, tz_name if tz_name not in ("local", "repository")
                  else str(now.tzname() or "local"))


# -- comparison periods (--compare-with) ----------------------------------------------------------------

_PERIOD_HINT = ("use previous, previous-year, none, a year (2025), a quarter (2026-Q1), a month (2026-03), "
                "a week (2026-W05), a day (2026-03-15) or a range (2026-01-01..2026-02-15)")
_QUARTERS = ("first", "second", "third", "fourth")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


@dataclass(frozen=True)
class PeriodSpec:
    """A parsed ``--compare-with`` value; ``resolve`` turns it into a ``Window`` next to the report's window.

    ``kind``: previous, previous-year, none, year, quarter, month, week, day or range; ``parts`` the numbers
    (year, quarter/month/week) or, for a range, the two texts.
    """

    text: str
    kind: str
    parts: tuple = ()

    @property
    def name(self) -> str:
        """How a sentence names the period: "the previous period", "the first quarter of 2025", "March 2026"."""
        if self.kind == "previous":
            return "the previous period"
        if self.kind == "previous-year":
            return "the same period a year before"
        if self.kind == "year":
            return str(self.parts[0])
        if self.kind == "quarter":
            return f"the {_QUARTERS[self.parts[1] - 1]} quarter of {self.parts[0]}"
        if self.kind == "month":
            return f"{_MONTHS[self.parts[1] - 1]} {self.parts[0]}"
        if self.kind == "week":
            return f"week {self.parts[1]} of {self.parts[0]}"
        if self.kind == "day":
            return "the chosen day"
        return "the chosen period"

    def resolve(self, window: Window, now: datetime | None = None) -> Window | None:
        """The comparison window in the report's zone (None: no comparison); ``TimeSpecError`` when it does not
        end before ``window`` starts."""
        tz = window.tz
        if self.kind == "none":
            return None
        if self.kind == "previous":
            return window.previous()
        if window.since is None:
            raise TimeSpecError(f"--compare-with {self.text} needs a report window with a start; give --since")
        if self.kind == "previous-year":
            since, until = _shift_years(window.since, -1), _shift_years(window.until, -1)
        elif self.kind == "range":
            anchor = (now or current_time(tz)).astimezone(tz)
            since = parse_when(self.parts[0], edge="since", now=anchor, tz=tz)
            until = parse_when(self.parts[1], edge="until", now=anchor, tz=tz)
            if since > until:
                raise TimeSpecError(f"--compare-with {self.text}: the range starts after it ends; write the "
                                    "earlier date first")
        else:
            first, last = self._days()
            since, until = _day_edge(first, "since", tz), _day_edge(last, "until", tz)
        if until >= window.since:
            raise TimeSpecError(
                f"--compare-with {self.text} ({since.date().isoformat()} to {until.date().isoformat()}) does not "
                f"end before the report's window starts ({window.since.date().isoformat()}); compare with an "
                "earlier period")
        return Window(since, until, tz, window.tz_name)

    def _days(self) -> tuple[date, date]:
        year = self.parts[0]
        if self.kind == "year":
            return date(year, 1, 1), date(year, 12, 31)
        if self.kind == "quarter":
            first = date(year, 3 * self.parts[1] - 2, 1)
            return first, _month_end(year, 3 * self.parts[1])
        if self.kind == "month":
            return date(year, self.parts[1], 1), _month_end(year, self.parts[1])
        if self.kind == "week":
            first = date.fromisocalendar(year, self.parts[1], 1)
            return first, first + timedelta(days=6)
        day = date(*self.parts)
        return day, day


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))


def _shift_years(moment: datetime, years: int) -> datetime:
    """The same date and time ``years`` later (29 February becomes 28 February)."""
    year = moment.year + years
    if year < 1:
        raise TimeSpecError("that comparison period is too far in the past")
    try:
        return moment.replace(year=year)
    except ValueError:
        return moment.replace(year=year, day=28)


def parse_period(text: str | None) -> PeriodSpec:
    """A ``--compare-with`` value parsed (syntax and calendar checks only; ``resolve`` places it in time)."""
    raw = (text or "previous").strip()
    value = raw.lower()
    if value in ("previous", "previous-period", "prev"):
        return PeriodSpec(raw, "previous")
    if value in ("previous-year", "last-year", "year-before", "yoy"):
        return PeriodSpec(raw, "previous-year")
    if value in ("none", "off", "no"):
        return PeriodSpec(raw, "none")
    if ".." in value:
        start, _, end = raw.partition("..")
        if not start.strip() or not end.strip() or ".." in end:
            raise TimeSpecError(f"--compare-with '{raw}' is not a range; write FROM..TO, e.g. "
                                "2026-01-01..2026-02-15")
        for side, edge in ((start, "since"), (end, "until")):
            try:  # checked now (against a fixed zone) so that nonsense fails before any work
                parse_when(side, edge=edge, tz=resolve_timezone("UTC"))
            except TimeSpecError:
                raise TimeSpecError(f"--compare-with '{raw}': cannot understand '{side.strip()}'; {_PERIOD_HINT}") \
                    from None
        return PeriodSpec(raw, "range", (start.strip(), end.strip()))
    match = re.fullmatch(r"(\d{4})(?:-(q\d|\d{1,2}|w\d{1,2}))?(?:-(\d{1,2}))?", value)
    if not match:
        raise TimeSpecError(f"cannot understand --compare-with '{raw}'; {_PERIOD_HINT}")
    year, middle, day = int(match.group(1)), match.group(2), match.group(3)
    if year < 1:
        raise TimeSpecError(f"--compare-with '{raw}': year {year} does not exist")
    if middle is None:
        return PeriodSpec(raw, "year", (year,))
    if middle.startswith("q"):
        if day is not None or not 1 <= int(middle[1:]) <= 4:
            raise TimeSpecError(f"--compare-with '{raw}': a quarter is Q1 to Q4, e.g. {year}-Q1")
        return PeriodSpec(raw, "quarter", (year, int(middle[1:])))
    if middle.startswith("w"):
        week = int(middle[1:])
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise TimeSpecError(f"--compare-with '{raw}': {year} has no ISO week {week}") from None
        if day is not None:
            raise TimeSpecError(f"cannot understand --compare-with '{raw}'; {_PERIOD_HINT}")
        return PeriodSpec(raw, "week", (year, week))
    month = int(middle)
    if not 1 <= month <= 12:
        raise TimeSpecError(f"--compare-with '{raw}': there is no month {month}; months are 01 to 12")
    if day is None:
        return PeriodSpec(raw, "month", (year, month))
    try:
        date(year, month, int(day))
    except ValueError:
        raise TimeSpecError(f"--compare-with '{raw}' is not a valid date") from None
    return PeriodSpec(raw, "day", (year, month, int(day)))
