"""--compare-with PERIOD: parsed in narrator.timespec (one place), used by the report's comparison."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from conftest import GitRepo, run_narrate
from narrator.errors import TimeSpecError
from narrator.timespec import Window, parse_period, resolve_window

UTC = timezone.utc


def window(since: str, until: str) -> Window:
    return resolve_window(since, until, "UTC")


def span(spec: str, base: Window) -> tuple[str, str]:
    found = parse_period(spec).resolve(base)
    assert found is not None
    return found.since.isoformat(), found.until.isoformat()


@pytest.mark.parametrize("spec, since, until, name", [
    ("previous", "2025-10-03T00:00:00.000001+00:00", "2025-12-31T23:59:59.999999+00:00", "the previous period"),
    ("previous-year", "2025-01-01T00:00:00+00:00", "2025-03-31T23:59:59.999999+00:00",
     "the same period a year before"),
    ("2025-Q4", "2025-10-01T00:00:00+00:00", "2025-12-31T23:59:59.999999+00:00", "the fourth quarter of 2025"),
    ("2025-q1", "2025-01-01T00:00:00+00:00", "2025-03-31T23:59:59.999999+00:00", "the first quarter of 2025"),
    ("2025-02", "2025-02-01T00:00:00+00:00", "2025-02-28T23:59:59.999999+00:00", "February 2025"),
    ("2024", "2024-01-01T00:00:00+00:00", "2024-12-31T23:59:59.999999+00:00", "2024"),
    ("2025-W52", "2025-12-22T00:00:00+00:00", "2025-12-28T23:59:59.999999+00:00", "week 52 of 2025"),
    ("2025-12-24", "2025-12-24T00:00:00+00:00", "2025-12-24T23:59:59.999999+00:00", "the chosen day"),
    ("2025-10-01..2025-11-15", "2025-10-01T00:00:00+00:00", "2025-11-15T23:59:59.999999+00:00",
     "the chosen period"),
])
def test_periods(spec, since, until, name):
    base = window("2026-01-01", "2026-03-31")
    assert span(spec, base) == (since, until)
    assert parse_period(spec).name == name


def test_previous_year_of_a_leap_day_and_none():
    base = window("2024-02-29", "2024-03-10")
    assert span("previous-year", base) == ("2023-02-28T00:00:00+00:00", "2023-03-10T23:59:59.999999+00:00")
    assert parse_period("none").resolve(base) is None
    assert parse_period(None).kind == "previous"


@pytest.mark.parametrize("spec, message", [
    ("2026-Q5", "a quarter is Q1 to Q4"),
    ("2026-13", "there is no month 13"),
    ("2026-W54", "2026 has no ISO week 54"),
    ("2026-02-30", "is not a valid date"),
    ("last tuesday-ish", "cannot understand --compare-with"),
    ("2026-01-01..", "is not a range"),
    ("2026-01-01..soon", "cannot understand 'soon'"),
    ("0000", "year 0 does not exist"),
])
def test_nonsense_is_one_clear_line(spec, message):
    with pytest.raises(TimeSpecError) as caught:
        parse_period(spec)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("spec, message", [
    ("2026-03", "does not end before the report's window starts"),
    ("2026-02-01..2026-01-01", "starts after it ends"),
    ("2027", "does not end before"),
])
def test_a_period_that_is_not_before_the_window_is_refused(spec, message):
    with pytest.raises(TimeSpecError) as caught:
        parse_period(spec).resolve(window("2026-01-01", "2026-03-31"))
    assert message in str(caught.value)


@pytest.fixture
def history(tmp_path) -> GitRepo:
    """Work in Q1 2025 (2 commits), mid 2025 (3), Q4 2025 (1) and Q1 2026 (4)."""
    repo = GitRepo(tmp_path / "app")
    dates = {"2025-02-10": 2, "2025-06-10": 3, "2025-11-10": 1, "2026-02-10": 4}
    n = 0
    for day, count in dates.items():
        for i in range(count):
            n += 1
            when = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=i + 1)
            repo.commit(f"feat: feature {n}", {f"src/f{n}.py": f"x = {n}\n"}, when=when)
    return repo


def report_json(repo: GitRepo, *args: str) -> dict:
    proc = run_narrate("report", "--repo", str(repo.path), "--since", "2026-01-01", "--until", "2026-03-31",
                       "--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_previous_year_counts_only_that_period(history):
    context = report_json(history, "--compare-with", "previous-year")
    comparison = context["comparison"]
    assert comparison["work_commits"] == 2  # not the 4 commits between the two periods
    assert comparison["since"].startswith("2025-01-01T00:00:00") and comparison["until"].startswith("2025-03-31")
    assert comparison["summary"].startswith("Busier than the same period a year before (1 January to 31 March 2025)")
    md = run_narrate("report", "--repo", str(history.path), "--since", "2026-01-01", "--until", "2026-03-31",
                     "--format", "md", "--compare-with", "previous-year", "--detail", "full")
    assert "## Compared with 1 January to 31 March 2025" in md.stdout


def test_quarter_range_default_and_none(history):
    assert report_json(history, "--compare-with", "2025-Q4")["comparison"]["work_commits"] == 1
    assert report_json(history, "--compare-with", "2025-01-01..2025-12-31")["comparison"]["work_commits"] == 6
    default = report_json(history)["comparison"]
    assert default["work_commits"] == 1 and default["summary"].startswith("Busier than the previous period (")
    assert report_json(history, "--compare-with", "none")["comparison"] is None


@pytest.mark.parametrize("spec, message", [("2026-Q7", "a quarter is Q1 to Q4"),
                                           ("2026-02", "does not end before the report's window starts")])
def test_cli_errors_exit_2_before_any_output(history, tmp_path, spec, message):
    out = tmp_path / "r.md"
    proc = run_narrate("report", "--repo", str(history.path), "--since", "2026-01-01", "--until", "2026-03-31",
                       "--compare-with", spec, "-o", str(out))
    assert proc.returncode == 2
    error, = proc.stderr.strip().splitlines()
    assert error.startswith("narrate: error: --compare-with") and message in error
    assert not out.exists()


def test_team_report_compares_the_same_period(history, tmp_path):
    other = GitRepo(tmp_path / "site")
    other.commit("docs: home page", {"index.md": "# Hi\n"}, when=datetime(2025, 3, 1, 9, tzinfo=UTC))
    other.commit("docs: about page", {"about.md": "# About\n"}, when=datetime(2026, 3, 1, 9, tzinfo=UTC))
    proc = run_narrate("report", "--repo", str(history.path), "--repo", str(other.path), "--since", "2026-01-01",
                       "--until", "2026-03-31", "--format", "json", "--compare-with", "previous-year")
    assert proc.returncode == 0, proc.stderr
    comparison = json.loads(proc.stdout)["comparison"]
    assert comparison["work_commits"] == 3 and comparison["label"] == "1 January to 31 March 2025"
    assert comparison["summary"].startswith("Busier than the same period a year before (1 January to 31 March 2025)")
