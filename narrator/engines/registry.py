"""Finding engines: built-ins and third-party plugins through the ``narrator.engines`` entry-point group.

An entry point names a class (or factory) called as ``factory(config_section: dict)`` where the section is
``config.section("engines.<name>")``; the result must satisfy ``narrator.engines.base.Engine``.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from narrator.engines.base import Engine, EngineStatus
from narrator.errors import EngineError

log = logging.getLogger(__name__)

# Built-ins are listed here too, so they work from a source checkout that was never pip-installed.
BUILTIN: dict[str, str] = {
    "heuristic": "narrator.engines.heuristic:HeuristicEngine",
    "hf": "narrator.engines.hf:HFEngine",
    "openai": "narrator.engines.openai:OpenAIEngine",
}


def _load_target(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    import importlib

    module = importlib.import_module(module_name)
    return getattr(module, attr)


def available() -> dict[str, str]:
    """Engine name -> "module:attr", plugins included (a plugin cannot shadow a built-in)."""
    from importlib.metadata import entry_points  # the scan of installed distributions: only when asked

    found = dict(BUILTIN)
    for ep in entry_points(group="narrator.engines"):
        found.setdefault(ep.name, ep.value)
    return found


def create(name: str, settings: dict[str, Any] | None = None) -> Engine:
    """Instantiate the engine called ``name`` with its config section."""
    # a built-in needs no scan of the installed distributions (a plugin cannot shadow a built-in anyway)
    engines = {name: BUILTIN[name]} if name in BUILTIN else available()
    if name not in engines:
        raise EngineError(f"unknown engine '{name}'; available: {', '.join(sorted(engines))}")
    try:
        factory = _load_target(engines[name])
    except ImportError as exc:
        raise EngineError(
            f"engine '{name}' cannot be loaded ({exc}); for the model engines install the extra: "
            "pip install 'narrator[model]'"
        ) from None
    except AttributeError as exc:
        raise EngineError(f"engine '{name}' entry point {engines[name]} is broken: {exc}") from None
    return factory(settings or {})


def statuses(settings_for: Callable[[str], dict[str, Any]]) -> list[EngineStatus]:
    """One status line per engine, without loading any model weights."""
    out = []
    for name, target in sorted(available().items()):
        try:
            factory = _load_target(target)
        except Exception as exc:  # a broken plugin must not hide the others
            out.append(EngineStatus(name, False, f"cannot be imported: {exc}"))
            continue
        probe = getattr(factory, "status", None)
        if probe is None:
            out.append(EngineStatus(name, True, "ready"))
            continue
        try:
            out.append(probe(settings_for(name)))
        except Exception as exc:
            out.append(EngineStatus(name, False, f"status check failed: {exc}"))
    return out
