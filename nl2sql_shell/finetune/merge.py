"""Fold a LoRA adapter into its base: one stand-alone model folder, no peft needed to load it.

A merged folder loads anywhere a plain transformers model does (and converts to GGUF for
llama.cpp), at the cost of a full copy of the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from peft import PeftConfig, PeftModel

from nl2sql_shell.llm.load import ModelSpec, load_model


def adapter_base(adapter: Path) -> str:
    """The base model an adapter was trained on, as recorded in its adapter_config.json."""
    return PeftConfig.from_pretrained(str(adapter)).base_model_name_or_path


def merge_adapter(
    adapter: Path,
    output: Path,
    *,
    model: str | None = None,
    device: str | None = None,
    progress: Callable[[str], None] = print,
) -> Path:
    """Load base + adapter unquantized, merge the LoRA weights in, save model and tokenizer.

    The base is never quantized here, even for a QLoRA adapter: merging into 4-bit weights
    would round the adapter's small updates away.
    """
    base = model or adapter_base(adapter)
    loaded = load_model(ModelSpec(model=base, device=device), progress=progress)
    merged = PeftModel.from_pretrained(loaded.model, str(adapter)).merge_and_unload()
    output = Path(output)
    merged.save_pretrained(output)
    loaded.tokenizer.save_pretrained(output)
    progress(f"Merged model written to {output}")
    return output
