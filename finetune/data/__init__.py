"""Training data for the narration model: record schemas, loaders, the study's filters, mixtures, mining."""

from __future__ import annotations

from finetune.data.schema import CommitRecord, Example, FunctionRecord

__all__ = ["CommitRecord", "Example", "FunctionRecord"]
