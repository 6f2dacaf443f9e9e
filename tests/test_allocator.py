"""The narrate process's allocator settings (narrator.allocator): taken by glibc, harmless elsewhere, and made by
the command line only."""

from __future__ import annotations

import ctypes
import platform
import sys

import pytest

from narrator import allocator


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_both_settings() -> None:
    assert allocator.tune_allocator() is True


def test_without_mallopt_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_library(*_args: object, **_kwargs: object) -> None:
        raise OSError("no C library here")

    monkeypatch.setattr(ctypes, "CDLL", no_library)
    assert allocator.tune_allocator() is False

    class NoMallopt:  # a C library without mallopt (musl)
        def __getattr__(self, name: str) -> object:
            raise AttributeError(name)

    monkeypatch.setattr(ctypes, "CDLL", lambda *_a, **_k: NoMallopt())
    assert allocator.tune_allocator() is False


def test_the_command_line_tunes_the_allocator_and_importing_narrator_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    cli_main = importlib.import_module("narrator.cli.main")  # the module (``narrator.cli.main`` is the function)

    calls: list[bool] = []
    monkeypatch.setattr(cli_main, "tune_allocator", lambda: calls.append(True) or True)
    with pytest.raises(SystemExit) as exited:
        cli_main.main(["--version"])
    assert exited.value.code == 0 and calls == [True]


def test_a_program_importing_narrator_keeps_its_allocator_settings() -> None:
    """In a fresh interpreter (this one has imported everything already): importing the library, the report use
    case and the command line's module tunes nothing; only calling ``main`` would."""
    import subprocess

    code = ("import narrator.allocator as a\n"
            "def refuse(): raise SystemExit('tuned on import')\n"
            "a.tune_allocator = refuse\n"
            "import narrator, narrator.app.report, narrator.report.aggregate, narrator.cli.main\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
