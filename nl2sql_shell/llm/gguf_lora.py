"""A peft LoRA adapter written as a GGUF LoRA file, so that llama.cpp runs a fine-tuned model on
the quantized GGUF it already reads (about 5x faster on a CPU than transformers' float copy).

`nl2sql-shell finetune` trains on the GGUF's weights dequantized, so its adapters fit the GGUF
exactly. The conversion is a renaming: each `...layers.N.self_attn.q_proj.lora_A.weight` becomes
`blk.N.attn_q.weight.lora_a` (the names llama.cpp gives the base tensors, from the `gguf`
package's own map), the matrices are kept as they are, and `lora_alpha` goes in the header;
llama.cpp then adds `alpha / r * B @ A` to each projection, as peft does. The file is written
once per adapter content, under the converted-model cache.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

ADAPTER_WEIGHTS = "adapter_model.safetensors"
_FORMAT_VERSION = 1  # bump when the written file changes for the same adapter


class AdapterConversionError(ValueError):
    """The adapter cannot run in llama.cpp; the message is one line saying why."""


def llamacpp_can_run(adapter: str | os.PathLike) -> bool:
    """Whether `adapter` is a peft LoRA that this module converts (auto then keeps llama.cpp)."""
    try:
        _settings(Path(adapter).expanduser())
    except AdapterConversionError:
        return False
    return True


def gguf_adapter(adapter: str | os.PathLike, base_gguf: str | os.PathLike, cache_dir: Path) -> Path:
    """The GGUF LoRA file for the peft adapter folder `adapter` on the model `base_gguf`,
    converted on first use and cached by content."""
    folder = Path(adapter).expanduser()
    alpha = _settings(folder)
    weights = folder / ADAPTER_WEIGHTS
    architecture, blocks = _architecture(Path(base_gguf))
    digest = hashlib.sha256(f"{_FORMAT_VERSION}:{architecture}:{blocks}:".encode())
    digest.update((folder / "adapter_config.json").read_bytes())
    with weights.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    target = cache_dir / f"lora-{folder.name}-{digest.hexdigest()[:12]}.gguf"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    try:
        _write(staging, weights, architecture, blocks, alpha)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target


def _settings(folder: Path) -> float:
    """The alpha llama.cpp must be given (it scales by alpha / r, r read from each tensor's
    shape); refuses the peft variants that scale or shape differently."""
    config_path = folder / "adapter_config.json"
    if not config_path.is_file():
        raise AdapterConversionError(f"{folder} is not a LoRA adapter folder (no adapter_config.json)")
    if not (folder / ADAPTER_WEIGHTS).is_file():
        raise AdapterConversionError(f"{folder} has no {ADAPTER_WEIGHTS} (an adapter saved in another format)")
    config = json.loads(config_path.read_text())
    unsupported = [
        what
        for what, present in (
            (f"peft type {config.get('peft_type')}", config.get("peft_type") != "LORA"),
            ("DoRA", config.get("use_dora")),
            ("per-module alphas", config.get("alpha_pattern")),
            ("trained biases", config.get("bias", "none") != "none"),
            ("fully trained modules", config.get("modules_to_save")),
            ("fan_in_fan_out layers", config.get("fan_in_fan_out")),
        )
        if present
    ]
    if unsupported:
        raise AdapterConversionError(f"llama.cpp cannot run this adapter ({', '.join(unsupported)}): use --backend transformers")
    alpha = float(config["lora_alpha"])
    # rsLoRA scales by alpha / sqrt(r): the same as alpha * sqrt(r) / r.
    return alpha * math.sqrt(config["r"]) if config.get("use_rslora") else alpha


def _architecture(base: Path) -> tuple[str, int]:
    """The base GGUF's architecture name and block count, read from its header."""
    from gguf import GGUFReader

    reader = GGUFReader(str(base))
    architecture = reader.get_field("general.architecture").contents()
    return architecture, int(reader.get_field(f"{architecture}.block_count").contents())


def _write(path: Path, weights: Path, architecture: str, blocks: int, alpha: float) -> None:
    import gguf
    from safetensors.numpy import load_file

    arch = {name: key for key, name in gguf.MODEL_ARCH_NAMES.items()}.get(architecture)
    if arch is None:
        raise AdapterConversionError(f"the gguf package does not know the architecture {architecture!r}: use --backend transformers")
    names = gguf.get_tensor_name_map(arch, blocks)
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for key, tensor in sorted(load_file(str(weights)).items()):
        module, _, part = key.removeprefix("base_model.model.").rpartition(".lora_")
        if part not in ("A.weight", "B.weight"):
            raise AdapterConversionError(f"llama.cpp cannot run this adapter (tensor {key}): use --backend transformers")
        name = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if name is None:
            raise AdapterConversionError(f"no llama.cpp tensor matches {module} of this adapter: use --backend transformers")
        writer.add_tensor(f"{name}.lora_{part[0].lower()}", tensor.astype("float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
