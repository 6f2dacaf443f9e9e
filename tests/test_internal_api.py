"""A public-looking Python function removed from an application's own modules is not a behaviour change for its
users: only a package whose ``__init__.py`` offers an API (imports names, lists ``__all__``) has users who import
it. This repository's own 2-week report listed nine internal refactors as "behaviour changes that can affect
users" before."""

from __future__ import annotations

import json

from conftest import run_narrate


def _report(repo) -> dict:
    proc = run_narrate("report", "--repo", str(repo.path), "--since", "2026-11-01", "--until", "2026-11-30",
                       "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _history(repo, package_init: str) -> None:
    repo.commit("Start the app", {"shop/__init__.py": package_init,
                                  "shop/views.py": "def render_page(request):\n    return 'page'\n\n\n"
                                                   "def render_cart(request):\n    return 'cart'\n"})
    repo.commit("Drop the old page view", {"shop/views.py": "def render_cart(request):\n    return 'cart'\n"})


def test_python_packages_say_which_offer_an_api(git_repo) -> None:
    from narrator.git.history import python_packages, tracked_paths
    from narrator.git.walker import Repository

    git_repo.commit("Packages", {
        "app/__init__.py": '"""The app."""\n\nfrom __future__ import annotations\n\n__version__ = "1"\n',
        "lib/__init__.py": "from .core import run\n", "lib/core.py": "def run():\n    pass\n",
        "src/pkg/__init__.py": '__all__ = ["thing"]\n', "tools/x.py": "import os\n",
        "app/sub/__init__.py": "from .a import b\n"})
    repo = Repository.open(git_repo.path)
    assert python_packages(repo, tracked_paths(repo)) == {"app/": False, "lib/": True, "src/pkg/": True}


def test_a_function_removed_from_an_application_module_is_no_behaviour_change(git_repo) -> None:
    _history(git_repo, '"""The shop application."""\n')
    data = _report(git_repo)
    dropped = next(c for c in data["commits"] if c["subject"] == "Drop the old page view")
    assert dropped["tier"] != "behaviour" and not dropped["signals"], dropped
    assert "behaviour" not in [a["kind"] for a in data["attention"]]


def test_a_function_removed_from_a_library_that_exports_it_is_a_behaviour_change(git_repo) -> None:
    _history(git_repo, "from .views import render_cart, render_page\n")
    data = _report(git_repo)
    dropped = next(c for c in data["commits"] if c["subject"] == "Drop the old page view")
    assert dropped["tier"] == "behaviour", dropped
    assert [s["name"] for s in dropped["signals"] if s["kind"] == "api_removed"] == ["render_page"]
    assert "behaviour" in [a["kind"] for a in data["attention"]]


def test_the_packages_are_read_once_and_only_when_a_python_api_change_is_judged(git_repo, monkeypatch) -> None:
    import narrator.app.session as session_module

    calls = {"tracked": 0, "packages": 0}
    tracked, packages = session_module.tracked_paths, session_module.python_packages

    def counted_tracked(*args, **kwargs):
        calls["tracked"] += 1
        return tracked(*args, **kwargs)

    def counted_packages(*args, **kwargs):
        calls["packages"] += 1
        return packages(*args, **kwargs)

    monkeypatch.setattr(session_module, "tracked_paths", counted_tracked)
    monkeypatch.setattr(session_module, "python_packages", counted_packages)
    git_repo.commit("Start the app", {"shop/__init__.py": "", "shop/views.py": "def render_page():\n    pass\n"})
    git_repo.commit("Say more", {"shop/views.py": "def render_page():\n    return 1\n"})
    _report(git_repo)
    assert calls == {"tracked": 1, "packages": 0}  # the classifier's root package only: no API change judged
    git_repo.commit("Drop the page view", {"shop/views.py": "X = 1\n"})
    calls.update(tracked=0, packages=0)
    _report(git_repo)
    assert calls == {"tracked": 1, "packages": 1}  # HEAD's tree read once for both
