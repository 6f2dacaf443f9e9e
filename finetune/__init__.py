"""Fine-tuning of narrator's narration model: data, NF4 + LoRA training, evaluation and adapter export.

Importing this package is cheap: torch, transformers, peft and datasets are imported only by the
functions that need them (``finetune.train``, ``finetune.evaluate``, ``finetune.export``).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
