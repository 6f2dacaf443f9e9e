"""``python -m narrator`` runs the ``narrate`` command line."""

from narrator.cli import main

main()
