"""Export of a trained adapter for narrator's ``hf`` engine: bf16 safetensors plus a manifest.

The exported directory holds ``adapter_model.safetensors`` (LoRA weights in bf16), peft's
``adapter_config.json`` and ``manifest.json``: base model (id or GGUF file, revision, sha256 of a local
file), prompt version, data hashes, the training mixture, metrics and the command that made it. The engine loads it by path;
it checks ``prompt_version`` against ``narrator.prompts.PROMPT_VERSION``.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from finetune.errors import ModelLoadError, OutputPathError
from narrator.prompts import PROMPT_VERSION

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
WEIGHTS = "adapter_model.safetensors"


def export_adapter(adapter_dir: str | Path, out_dir: str | Path, *, base_model: Mapping[str, Any],
                   data_hashes: Mapping[str, str] | None = None, metrics: Mapping[str, Any] | None = None,
                   command: str = "", train_summary: Mapping[str, Any] | None = None,
                   mixture: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``out_dir`` (replaced atomically) from a peft adapter directory; returns ``out_dir``."""
    import torch
    from safetensors.torch import load_file, save_file

    src = Path(adapter_dir)
    weights = src / WEIGHTS
    if not weights.is_file() or not (src / "adapter_config.json").is_file():
        raise ModelLoadError(f"{src} is not a peft adapter directory ({WEIGHTS} and adapter_config.json needed)")
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".tmp-export")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir(parents=True)
    except OSError as exc:
        raise OutputPathError(f"cannot create {tmp}: {exc}") from None
    tensors = {k: v.to(torch.bfloat16).contiguous() for k, v in load_file(str(weights)).items()}
    save_file(tensors, str(tmp / WEIGHTS), metadata={"format": "pt"})
    config = json.loads((src / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = base_model.get("name_or_path", config.get("base_model_name_or_path"))
    (tmp / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    manifest = {
        "format": "narrator-adapter/1",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "base_model": dict(base_model),
        "prompt_version": PROMPT_VERSION,
        "dtype": "bfloat16",
        "parameters": int(sum(t.numel() for t in tensors.values())),
        "lora": {k: config.get(k) for k in ("r", "lora_alpha", "lora_dropout", "target_modules")},
        "data_hashes": dict(data_hashes or {}),
        "mixture": dict(mixture or {}),
        "metrics": dict(metrics or {}),
        "command": command,
        "training": dict(train_summary or {}),
        **dict(extra or {}),
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    log.info("exported %s (%d parameters) to %s", src, manifest["parameters"], out)
    return out


def read_manifest(adapter_dir: str | Path) -> dict[str, Any]:
    path = Path(adapter_dir) / MANIFEST
    if not path.is_file():
        raise ModelLoadError(f"{adapter_dir} has no {MANIFEST}; export adapters with `python -m finetune export`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path} is not valid JSON ({exc})") from None


def base_model_entry(model_cfg: Any) -> dict[str, Any]:
    """The manifest's description of the base model (with the GGUF file's sha256 when local)."""
    entry: dict[str, Any] = {"name_or_path": model_cfg.name_or_path, "revision": model_cfg.revision}
    if model_cfg.gguf_file:
        from finetune.data.loaders import file_sha256

        from finetune.modeling import model_location

        path = Path(model_location(model_cfg.name_or_path)) / model_cfg.gguf_file
        entry["gguf_file"] = model_cfg.gguf_file
        if path.is_file():
            entry["gguf_sha256"] = file_sha256(path)
            entry["gguf_bytes"] = path.stat().st_size
    return entry
