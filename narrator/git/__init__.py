"""Everything that reads git: the walker, the facts it produces, classification, mailmap and bot rules.

No GitPython or PyDriller object leaves this package: callers get the frozen data of ``facts.py``.
"""
