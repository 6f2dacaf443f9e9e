"""Before a GPU run: what the machine has, and whether packing and NF4 behave there (seconds, no downloads).

Prints the versions that matter (Python, torch, transformers, peft, accelerate, bitsandbytes), the GPU, then
checks on the GPU in bf16 that the packed completion-only loss (``finetune.features``) equals the unpacked
loss of the same examples on a small random Llama, and that a bitsandbytes NF4 linear layer runs.

    python bench/train_device_check.py
"""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    import torch

    print("python", platform.python_version(), "torch", torch.__version__)
    for name in ("transformers", "peft", "accelerate", "bitsandbytes", "gguf", "safetensors", "yaml"):
        try:
            module = importlib.import_module(name)
            print(name, getattr(module, "__version__", "?"))
        except Exception as exc:  # report, keep going
            print(name, "MISSING", type(exc).__name__, str(exc)[:120])
    if not torch.cuda.is_available():
        print("no CUDA")
        return 1
    print("gpu", torch.cuda.get_device_name(0), f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")

    from transformers import LlamaConfig, LlamaForCausalLM

    from finetune.features import Encoded, collate, collate_packed, completion_loss, token_loss_sums

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    model = LlamaForCausalLM(config).cuda().eval()
    examples = []
    for n, p in [(70, 40), (120, 90), (50, 20), (33, 30)]:
        ids = torch.randint(0, 512, (n,)).tolist()
        examples.append(Encoded(ids, [-100] * p + ids[p:], p))
    batch = {k: v.cuda() for k, v in collate(examples, 0).items()}
    packed = {k: v.cuda() for k, v in collate_packed([examples[:2], examples[2:]], 0).items()
              if k not in ("tokens", "examples")}
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        sums, counts = token_loss_sums(model(input_ids=batch["input_ids"],
                                             attention_mask=batch["attention_mask"]).logits, batch["labels"])
        loss, count = completion_loss(model, packed)
    unpacked, packed_loss = float(sums.sum() / counts.sum()), float(loss / count)
    print(f"packing check (bf16, sdpa): unpacked {unpacked:.5f} packed {packed_loss:.5f} "
          f"{'OK' if abs(unpacked - packed_loss) < 2e-2 else 'MISMATCH'}")
    try:
        import bitsandbytes as bnb

        layer = bnb.nn.Linear4bit(64, 64, compute_dtype=torch.bfloat16, quant_type="nf4").cuda()
        out = layer(torch.randn(4, 64, device="cuda", dtype=torch.bfloat16))
        print("bitsandbytes nf4 linear OK", tuple(out.shape))
    except Exception as exc:
        print("bitsandbytes nf4 FAILED", type(exc).__name__, str(exc)[:200])
    return 0


if __name__ == "__main__":
    sys.exit(main())
