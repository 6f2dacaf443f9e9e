"""narrator: turn a git history into plain-English progress reports.

Importing this package is cheap: no torch, transformers or git objects are imported here.
"""

__version__ = "0.1.0"
