"""Typed settings: the whole precedence chain, the repository trust rule, type checks naming key, file and type."""

from __future__ import annotations

import json

import pytest

from conftest import run_narrate
from narrator.config import FIELDS, Settings, load_settings
from narrator.errors import ConfigError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_defaults_user_file_repo_file_env_flags(tmp_path, monkeypatch):
    user = write(tmp_path / "user.toml", '[report]\nhighlights = 3\nlarge_change_lines = 100\ntitle = "user"\n'
                 '[digest]\nweeks = 7\n')
    repo = tmp_path / "repo"
    repo.mkdir()
    write(repo / ".narrator.toml", '[report]\nlarge_change_lines = 200\ntitle = "repo"\nhotspot_min_commits = 9\n')
    monkeypatch.setenv("NARRATOR_CONFIG_FILE", str(user))
    env = {"NARRATOR_REPORT__TITLE": "env", "NARRATOR_REPORT__HOTSPOT_MIN_COMMITS": "11"}
    settings = load_settings(repo, env=env, overrides={"report.title": "flag", "report.per_person": None})
    assert settings.report.per_person is False and settings.sources["report.per_person"] == "default"
    assert settings.digest.weeks == 7 and settings.sources["digest.weeks"] == str(user)
    assert settings.report.highlights == 3
    assert settings.report.large_change_lines == 200 and settings.sources["report.large_change_lines"].endswith(
        ".narrator.toml")
    assert settings.report.hotspot_min_commits == 11 and settings.sources["report.hotspot_min_commits"] == \
        "$NARRATOR_REPORT__HOTSPOT_MIN_COMMITS"
    assert settings.report.title == "flag" and settings.sources["report.title"] == "command line"
    assert settings.get("report.title") == "flag"


def test_every_field_has_help_and_show_lists_them_all(tmp_path, monkeypatch):
    monkeypatch.setenv("NARRATOR_CONFIG_FILE", str(tmp_path / "none.toml"))
    assert all(spec.help for spec in FIELDS.values())
    keys = [key for key, _value, _source in Settings().items()]
    assert keys == sorted(FIELDS)
    proc = run_narrate("config", "show", "--help-keys", "--repo", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for key in FIELDS:
        assert f"\n{key} = " in "\n" + proc.stdout


def test_a_repository_cannot_choose_the_engine_or_where_data_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("NARRATOR_CONFIG_FILE", str(tmp_path / "none.toml"))
    repo = tmp_path / "repo"
    repo.mkdir()
    write(repo / ".narrator.toml", 'engine = "openai"\n[engines.openai]\nbase_url = "https://evil.example/v1"\n'
          'api_key_env = "AWS_SECRET_ACCESS_KEY"\n[digest]\nout_dir = "/etc"\n[report]\nhighlights = 4\n')
    settings = load_settings(repo, env={})
    assert settings.engine == "heuristic"
    assert settings.engines.openai.base_url == "http://localhost:11434/v1"
    assert settings.engines.openai.api_key_env == "OPENAI_API_KEY"
    assert settings.digest.out_dir == "narrator-digests"
    assert settings.report.highlights == 4  # ordinary settings still apply
    assert len(settings.notes) == 1 and "engine" in settings.notes[0] and "ignored" in settings.notes[0]
    user = write(tmp_path / "user.toml", 'engine = "openai"\n')
    monkeypatch.setenv("NARRATOR_CONFIG_FILE", str(user))
    assert load_settings(repo, env={}).engine == "openai"  # the user's own file decides


@pytest.mark.parametrize("toml, key, expected", [
    ('[report]\nhighlights = "many"\n', "report.highlights", "whole number"),
    ('[report]\nhighlights = [1]\n', "report.highlights", "whole number"),
    ('[bots]\npatterns = ["ok", 3]\n', "bots.patterns", "list of strings"),
    ('[areas]\n"src/**" = 3\n', "areas", "table of strings"),
    ('[classify]\nrules = ["x"]\n', "classify.rules", "list of tables"),
    ('timezone = 5\n', "timezone", "string"),
])
def test_wrong_types_name_the_key_the_file_and_the_type(tmp_path, monkeypatch, toml, key, expected):
    monkeypatch.setenv("NARRATOR_CONFIG_FILE", str(tmp_path / "none.toml"))
    repo = tmp_path / "repo"
    repo.mkdir()
    write(repo / ".narrator.toml", toml)
    with pytest.raises(ConfigError) as info:
        load_settings(repo, env={})
    message = str(info.value)
    assert f"'{key}'" in message and ".narrator.toml" in message and expected in message


def test_a_config_file_that_is_not_utf8_is_one_clear_error(tmp_path, monkeypatch):
    user = tmp_path / "user.toml"
    user.write_bytes(b'title = "caf\xe9"\n')
    monkeypatch.setenv("NARRATOR_CONFIG_FILE", str(user))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(None, env={})


def test_plugin_engine_settings_are_kept_for_the_plugin(tmp_path, monkeypatch):
    user = write(tmp_path / "user.toml", '[engines.echo]\nprefix = ">>"\n')
    monkeypatch.setenv("NARRATOR_CONFIG_FILE", str(user))
    settings = load_settings(None, env={"NARRATOR_ENGINES__ECHO__LOUD": "yes"})
    assert settings.engine_section("echo") == {"prefix": ">>", "loud": "yes"}
    assert settings.engine_section("hf")["model"] == FIELDS["engines.hf.model"].default


@pytest.mark.parametrize("rule, key, expected", [
    ('category = ["a", "b"]\nsubject = "login"', "category", "a non-empty string"),  # a list as category
    ('category = { x = 1 }\nsubject = "login"', "category", "a non-empty string"),  # a table as category
    ('category = 5\nsubject = "login"', "category", "a non-empty string"),
    ('category = ""\nsubject = "login"', "category", "a non-empty string"),
    ('category = "Ops"\nname = 5', "name", "a non-empty string"),
    ('category = "Ops"\nany_path = 3', "any_path", "a list of strings"),  # an int as paths
    ('category = "Ops"\nall_paths = [1, 2]', "all_paths", "a list of strings"),
    ('category = "Ops"\nany_path = "src/**"', "any_path", "a list of strings"),  # not one glob per character
    ('category = "Ops"\ncc_types = [1]', "cc_types", "a list of strings"),
    ('category = "Ops"\ncc_scopes = 7', "cc_scopes", "a list of strings"),
    ('category = "Ops"\nrevert = "yes"', "revert", "a boolean"),
    ('category = "Ops"\nsubject = 5', "subject", "must be a string"),  # an int as subject regex
])
def test_wrong_types_inside_a_classify_rule_are_one_clear_line(make_repo, rule, key, expected):
    """Through the real command: the entry, the key, the file and the type expected; never a crash handler."""
    repo = make_repo("typed")
    repo.commit("fix: the login page", {"src/login.py": "x = 1\n"})
    (repo.path / ".narrator.toml").write_text(f"[[classify.rules]]\n{rule}\n", encoding="utf-8")
    proc = run_narrate("report", "--repo", str(repo.path), "--since", "2026-11-01", "--format", "md")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "unexpected" not in lines[0] and "Traceback" not in proc.stderr
    assert "classify.rules entry 1" in lines[0] and key in lines[0] and ".narrator.toml" in lines[0]
    assert expected in lines[0], lines[0]


def test_a_valid_rule_with_every_key_still_works(make_repo):
    repo = make_repo("typed")
    repo.commit("feat: the login page", {"src/login.py": "x = 1\n"})
    (repo.path / ".narrator.toml").write_text(
        '[[classify.rules]]\nname = "ops"\ncategory = "Operations"\ncc_types = ["feat"]\nany_path = ["src/**"]\n'
        'revert = false\nmerge = false\n', encoding="utf-8")
    proc = run_narrate("report", "--repo", str(repo.path), "--since", "2026-11-01", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert [c["name"] for c in json.loads(proc.stdout)["categories"]] == ["Operations"]
