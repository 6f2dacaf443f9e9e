"""Team reports: several repositories (--repo repeatable, or a [workspace.NAME] of the user config) in one report.

Each repository's section must say exactly what its own report says (its own .narrator.toml, highlights and
attention items); people are counted once across repositories after each one's .mailmap; a missing or broken
repository is named and the others still report (exit 4); names are told apart or refused clearly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import BASE_DATE, GitRepo, run_narrate

WINDOW = ("--since", "2026-11-01", "--until", "2026-11-15")
GRACE = ("Grace Hopper", "grace@example.com")
ALAN = ("Alan Turing", "alan@example.com")
ADA = ("Ada Lovelace", "ada@example.com")


def build_team(root: Path) -> dict[str, GitRepo]:
    api, web = GitRepo(root / "api"), GitRepo(root / "web")
    api.write(".narrator.toml", '[areas]\n"src/pay/**" = "Payments API"\n')
    api.commit("feat: refunds endpoint", {"src/pay/refund.py": "def refund():\n    return 1\n" * 30},
               author=GRACE, when=BASE_DATE + timedelta(hours=1))
    api.commit("fix: rounding of refunds", {"src/pay/refund.py": "def refund():\n    return 2\n" * 30},
               author=ALAN, when=BASE_DATE + timedelta(days=1))
    api.commit("Revert \"fix: rounding of refunds\"", {"src/pay/refund.py": "def refund():\n    return 1\n" * 30},
               author=ALAN, when=BASE_DATE + timedelta(days=2))
    api.git("tag", "v1.4.0")
    web.write(".mailmap", "Grace Hopper <grace@example.com> G. Hopper <g.hopper@old.example>\n")
    web.commit("feat: checkout page <script>alert(1)</script>", {"app/checkout.js": "export default 1\n"},
               author=("G. Hopper", "g.hopper@old.example"), when=BASE_DATE + timedelta(days=3))
    web.commit("docs: how to pay", {"docs/pay.md": "# Pay\n"}, author=ADA, when=BASE_DATE + timedelta(days=4))
    return {"api": api, "web": web}


@pytest.fixture
def team(tmp_path) -> dict[str, GitRepo]:
    return build_team(tmp_path)


def repo_args(*repos: GitRepo) -> list[str]:
    return [x for r in repos for x in ("--repo", str(r.path))]


def test_each_section_is_exactly_the_repositorys_own_report(team):
    proc = run_narrate("report", *repo_args(team["api"], team["web"]), *WINDOW, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    context = json.loads(proc.stdout)
    assert context["kind"] == "team" and not context["partial"] and context["problems"] == []
    assert [s["name"] for s in context["repositories"]] == ["api", "web"]
    for section in context["repositories"]:
        alone = run_narrate("report", "--repo", section["path"], *WINDOW, "--format", "json")
        own = json.loads(alone.stdout)
        mine = section["report"]
        for key in ("headline", "highlights", "attention", "numbers", "areas", "categories", "releases",
                    "comparison", "commits", "notes", "title"):
            assert mine[key] == own[key], key
    api = context["repositories"][0]["report"]
    assert [a["name"] for a in api["areas"]][:1] == ["Payments API"]  # api's own .narrator.toml
    assert any(a["kind"] == "reverts" for a in api["attention"])
    web = context["repositories"][1]["report"]
    assert not any(a["name"] == "Payments API" for a in web["areas"])  # ... and only api's


def test_people_are_counted_once_across_repositories_after_mailmap(team):
    proc = run_narrate("report", *repo_args(team["api"], team["web"]), *WINDOW, "--format", "json",
                       "--per-person")
    context = json.loads(proc.stdout)
    numbers = context["numbers"]
    assert numbers["contributors"] == 3  # Grace (two addresses, web's .mailmap), Alan, Ada
    assert numbers["shared_contributors"] == 1
    assert sum(s["report"]["numbers"]["contributors"] for s in context["repositories"]) == 4
    people = {p["name"]: p for p in context["people"]}
    assert people["Grace Hopper"]["repositories"] == ["api", "web"] and people["Grace Hopper"]["commits"] == 2
    assert numbers["work_commits"] == 5 and numbers["releases"] == 1
    rows = {r["name"]: r for r in context["work"]}
    assert rows["api"]["work_commits"] == 3 and rows["web"]["work_commits"] == 2
    assert rows["api"]["releases"] == ["v1.4.0"] and abs(rows["api"]["share"] - 0.6) < 1e-9
    headline = context["headline"]
    assert headline.startswith("Released api v1.4.0. 3 people made 5 changes across 2 repositories")
    assert "1 person worked in more than one repository" in headline


def test_markdown_and_html_team_report(team, tmp_path):
    md = run_narrate("report", *repo_args(team["api"], team["web"]), *WINDOW, "--format", "md", "--per-person")
    assert md.returncode == 0, md.stderr
    text = md.stdout
    assert text.startswith("# api and web \u2014 team report, 1 November to 15 November 2026")
    assert text.index("## Where the work went") < text.index("## api") < text.index("## web") < text.index("## Team")
    assert "| api | 3 | 60% | 2 |" in text and "| web | 2 | 40% | 2 |" in text
    assert "### Needs attention" in text and "1 change undone" in text
    assert "| Grace Hopper | 2 | api, web |" in text
    assert "<script>" not in text and "&lt;script>alert(1)&lt;/script>" in text
    out = tmp_path / "team.html"
    html = run_narrate("report", *repo_args(team["api"], team["web"]), *WINDOW, "-o", str(out))
    assert html.returncode == 0, html.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'id="chart-repositories-t"' in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<a href="#repo-1">api</a>' in page and '<section class="repo" id="repo-2">' in page


def test_a_missing_or_broken_repository_is_named_and_the_others_report(team, tmp_path):
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    broken = GitRepo(tmp_path / "broken")
    broken.commit("feat: x", {"a.py": "x = 1\n"}, when=BASE_DATE + timedelta(hours=2))
    broken.write(".narrator.toml", "this is = not [ toml\n")
    out = tmp_path / "team.md"
    proc = run_narrate("report", *repo_args(team["api"]), "--repo", str(tmp_path / "gone"), "--repo", str(plain),
                       "--repo", str(broken.path), *WINDOW, "-o", str(out))
    assert proc.returncode == 4, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 3
    assert f"gone left out: {tmp_path / 'gone'} does not exist" in warnings[0]
    assert "not-a-repo left out:" in warnings[1] and "is not a git repository" in warnings[1]
    assert "broken left out:" in warnings[2] and "not valid TOML" in warnings[2]
    text = out.read_text(encoding="utf-8")
    assert "## Not included" in text and "## api" in text
    assert "gone, not-a-repo and broken could not be read, so they are not counted." in text

    json_out = run_narrate("report", *repo_args(team["api"]), "--repo", str(tmp_path / "gone"), *WINDOW,
                           "--format", "json")
    assert json_out.returncode == 4
    context = json.loads(json_out.stdout)
    assert context["partial"] and [p["name"] for p in context["problems"]] == ["gone"]


def test_an_unknown_branch_leaves_only_that_repository_out(team, tmp_path):
    other = GitRepo(tmp_path / "legacy")
    other.git("checkout", "-q", "-b", "trunk")
    other.commit("feat: old thing", {"x.py": "x = 1\n"}, when=BASE_DATE + timedelta(hours=3))
    other.git("branch", "-D", "main", check=False)
    proc = run_narrate("report", *repo_args(team["api"], other), *WINDOW, "--branch", "main", "--format", "md")
    assert proc.returncode == 4
    assert "legacy left out:" in proc.stderr and "'main'" in proc.stderr


def test_nothing_readable_is_one_error(tmp_path):
    proc = run_narrate("report", "--repo", str(tmp_path / "a"), "--repo", str(tmp_path / "b"), *WINDOW)
    assert proc.returncode == 1
    error, = proc.stderr.strip().splitlines()
    assert error.startswith("narrate: error: no repository could be read (a: ") and "b: " in error


def test_same_directory_names_are_told_apart_by_their_parents(tmp_path):
    first, second = GitRepo(tmp_path / "payments" / "app"), GitRepo(tmp_path / "billing" / "app")
    first.commit("feat: pay", {"a.py": "x = 1\n"}, when=BASE_DATE + timedelta(hours=1))
    second.commit("feat: bill", {"b.py": "x = 1\n"}, when=BASE_DATE + timedelta(hours=2))
    proc = run_narrate("report", *repo_args(first, second), *WINDOW, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert [s["name"] for s in json.loads(proc.stdout)["repositories"]] == ["payments/app", "billing/app"]


def test_the_same_repository_twice_is_refused(team, tmp_path):
    proc = run_narrate("report", "--repo", str(team["api"].path), "--repo", str(team["api"].path / "src"), *WINDOW)
    assert proc.returncode == 2
    error, = proc.stderr.strip().splitlines()
    assert "is given twice" in error and "give each repository once" in error
    worktree = tmp_path / "api-wt"
    team["api"].git("worktree", "add", "-q", str(worktree), "-b", "other")
    twice = run_narrate("report", "--repo", str(team["api"].path), "--repo", str(worktree), *WINDOW)
    assert twice.returncode == 2 and "is given twice" in twice.stderr


def write_user_config(isolated_env: Path, monkeypatch, text: str) -> Path:
    path = isolated_env / "config.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("NARRATOR_CONFIG_FILE", str(path))
    return path


def test_a_workspace_reports_from_anywhere_with_its_branches_and_areas(team, tmp_path, isolated_env, monkeypatch):
    web = team["web"]
    web.git("checkout", "-q", "-b", "release")
    web.commit("feat: gift cards", {"app/gift.js": "export default 2\n"}, author=ADA,
               when=BASE_DATE + timedelta(days=5))
    web.git("checkout", "-q", "main")
    write_user_config(isolated_env, monkeypatch, f"""
[workspace.payments]
backend = "{team['api'].path}"
frontend = {{ path = "{web.path}", branch = "release", areas = {{ "app/**" = "Shop front" }} }}
""")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run_narrate("report", "--workspace", "payments", *WINDOW, "--format", "json", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    context = json.loads(proc.stdout)
    assert context["workspace"] == "payments" and context["title"].startswith("payments \u2014 team report")
    sections = {s["name"]: s["report"] for s in context["repositories"]}
    assert list(sections) == ["backend", "frontend"]
    assert sections["frontend"]["revision"] == "release"
    assert any("gift cards" in c["subject"] for c in sections["frontend"]["commits"])
    assert [a["name"] for a in sections["frontend"]["areas"]][0] == "Shop front"

    digests = tmp_path / "digests"
    digest = run_narrate("digest", "--workspace", "payments", "--since", "2026-11-02", "--until", "2026-11-08",
                         "--out", str(digests), cwd=elsewhere, env={"SOURCE_DATE_EPOCH": "1795000000"})
    assert digest.returncode == 0, digest.stderr
    week = (digests / "2026-W45.md").read_text(encoding="utf-8")
    assert week.startswith("[All digests](index.md)") and "# payments \u2014 weekly digest, week 45 of 2026" in week
    assert "## backend" in week and "## frontend" in week
    assert "payments" in (digests / "index.html").read_text(encoding="utf-8")


def test_unknown_or_broken_workspace_is_one_clear_line(isolated_env, monkeypatch, tmp_path):
    write_user_config(isolated_env, monkeypatch, '[workspace.payments]\napi = "/srv/api"\n')
    proc = run_narrate("report", "--workspace", "billing")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("narrate: error: no workspace 'billing' in your config (payments); add a "
                                   "[workspace.billing] table to the user config file (`narrate config show` "
                                   "prints its path)")
    write_user_config(isolated_env, monkeypatch, '[workspace.payments]\napi = { branch = "main" }\n')
    broken = run_narrate("report", "--workspace", "payments")
    assert broken.returncode == 2 and "workspace 'payments', repository 'api'" in broken.stderr
    assert "needs a path" in broken.stderr


def test_team_pdf_opens(team, tmp_path):
    from narrator.report.pdf import pdf_available

    if not pdf_available():
        pytest.skip("WeasyPrint (the pdf extra) or Pango is missing")
    out = tmp_path / "team.pdf"
    proc = run_narrate("report", *repo_args(team["api"], team["web"]), *WINDOW, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(str(out))
    assert 1 <= len(reader.pages) <= 2
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "team report" in text and "Where the work went" in text and "<script>alert(1)</script>" in text
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "30", "-png", str(out), str(tmp_path / "page")], check=True)
        assert len(list(tmp_path.glob("page*.png"))) == len(reader.pages)
