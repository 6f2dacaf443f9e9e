"""Narration engines: turn commit facts into plain-English sentences (heuristic, hf, openai, plugins)."""
