"""The ``narrate`` command line: one module per verb, the group and its error boundary in ``main``.

Commands turn flags into requests, call the use cases of ``narrator.app`` and render what they return; they
are the only code that prints or exits.
"""

from narrator.cli.common import RichProgress
from narrator.cli.main import cli, main

__all__ = ["cli", "main", "RichProgress"]
