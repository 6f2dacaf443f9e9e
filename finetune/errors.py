"""The errors ``finetune`` raises on purpose; all are ``NarratorError``s so the CLIs print one clear line."""

from __future__ import annotations

from narrator.errors import ConfigError as _NarratorConfigError
from narrator.errors import NarratorError


class FinetuneError(NarratorError):
    """Base of every error raised by ``finetune``."""


class DataError(FinetuneError):
    """A data file is missing or malformed, or a split is empty after filtering."""


class FinetuneConfigError(FinetuneError, _NarratorConfigError):
    """A recipe or override is invalid (bad ratio, unknown key, NF4 without CUDA...)."""


class ResumeError(FinetuneError):
    """A checkpoint cannot be resumed (missing, damaged, or made with another config)."""


class ModelLoadError(FinetuneError):
    """The base model, its tokenizer or an adapter cannot be loaded."""


class OutputPathError(FinetuneError):
    """An output directory or file cannot be written."""
