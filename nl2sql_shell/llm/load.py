"""Load a causal LM in-process: a hub id, a local folder or a GGUF file; bitsandbytes 4-/8-bit;
a peft LoRA adapter on top. Knows nothing about SQL.

Three backends (see `llm.model`): transformers runs everything above; llamacpp runs a GGUF file
as it is with llama-cpp-python (the `cpu` extra), with a peft LoRA adapter converted to GGUF
(`llm.gguf_lora`); openai asks an OpenAI-compatible server at `url` instead of loading anything.
`auto` picks openai when a URL is given, llamacpp for a GGUF file when llama_cpp is installed and
nothing asks for transformers (bitsandbytes, a GPU, an adapter llama.cpp cannot run).

Every failure a user can cause (a wrong path, no hub access, not enough memory) becomes one
ModelLoadError line that says what to do; the shell prints it and goes on.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nl2sql_shell.llm.model import Model

Progress = Callable[[str], None]
QUANTIZE_CHOICES = ("none", "4bit", "8bit")
BACKEND_CHOICES = ("auto", "transformers", "llamacpp", "openai")
LLAMACPP_INSTALL = (
    "pip install 'nl2sql-shell[cpu]' (builds llama.cpp: a C++ compiler and cmake, a few minutes; "
    'on an x86-64 CPU set CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON")'
)


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message is one line and says what to do."""


@dataclass
class ModelSpec:
    """What to load. `model` is a hub id, a local folder or a path to a .gguf file; with `url`
    (an OpenAI-compatible server's base URL) the served model's name, "" for the server's only one."""

    model: str
    gguf_file: str | None = None
    adapter: str | None = None
    quantize: str = "none"
    device: str | None = None  # None: cuda when available, else cpu
    dtype: str | None = None  # None: bfloat16 on CUDA, float32 on CPU
    random_weights: bool = False  # build the architecture from its config only (speed measurements)
    backend: str = "transformers"  # or "llamacpp", "openai", or "auto" (see choose_backend)
    url: str | None = None  # an OpenAI-compatible server (…/v1), for the openai backend


def llama_cpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def _is_gguf(spec: ModelSpec) -> bool:
    return spec.gguf_file is not None or Path(spec.model).suffix == ".gguf"


def choose_backend(spec: ModelSpec) -> str:
    """The backend `auto` stands for: openai when a server URL is given; transformers when
    bitsandbytes quantization, a GPU or an adapter llama.cpp cannot run is asked for; llamacpp
    for a GGUF file when llama_cpp is installed; else transformers."""
    if spec.backend != "auto":
        return spec.backend
    if spec.url:
        return "openai"
    from nl2sql_shell.llm.gguf_lora import llamacpp_can_run

    torch_adapter = spec.adapter and not llamacpp_can_run(spec.adapter)
    wants_torch = torch_adapter or spec.quantize != "none" or spec.random_weights or (spec.device or "cpu").startswith("cuda")
    if not wants_torch and _is_gguf(spec) and llama_cpp_installed():
        return "llamacpp"
    return "transformers"


def converted_cache_dir() -> Path:
    base = os.environ.get("NL2SQL_SHELL_CACHE") or os.path.expanduser("~/.cache/nl2sql-shell")
    return Path(base) / "converted"


def resolve_device(requested: str | None) -> str:
    import torch

    if requested:
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise ModelLoadError(f"--device {requested} asked for, but PyTorch sees no CUDA GPU: use --device cpu")
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(name: str | None, device: str):
    """bfloat16 on GPUs; float32 on CPUs, where bf16 matmuls are slower without AMX."""
    import torch

    if name:
        try:
            return getattr(torch, {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}.get(name, name))
        except AttributeError:
            raise ModelLoadError(f"unknown dtype {name!r}: use bf16, fp16 or fp32") from None
    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def load_model(spec: ModelSpec, progress: Progress | None = None):
    """Load the model that `spec` names with its backend, ready to generate (a `llm.model.Model`;
    with transformers a `LoadedModel`, whose torch model and tokenizer finetune uses)."""
    say = progress or (lambda _: None)
    if spec.adapter and not (Path(spec.adapter).expanduser() / "adapter_config.json").exists():  # before minutes of loading or converting
        raise ModelLoadError(f"{spec.adapter} is not a LoRA adapter folder (no adapter_config.json)")
    backend = choose_backend(spec)
    if backend == "llamacpp":
        return _load_llamacpp(spec, say)
    if backend == "openai":
        return _load_openai(spec, say)
    if backend != "transformers":
        raise ModelLoadError(f"unknown backend {spec.backend!r}: use one of {', '.join(BACKEND_CHOICES)}")
    return _load_transformers(spec, say)


def measured_name(spec: ModelSpec, loaded: Model) -> str:
    """The model a report names: the one asked for, or for a server asked for none, the one it serves."""
    from nl2sql_shell.llm.openai_backend import OpenAIModel

    return loaded.name if isinstance(loaded, OpenAIModel) else spec.model


def _load_llamacpp(spec: ModelSpec, say: Progress) -> Model:
    if spec.quantize != "none" or spec.random_weights:
        raise ModelLoadError("--quantize and random weights work with --backend transformers only")
    if spec.device and spec.device != "cpu":
        raise ModelLoadError(f"--backend llamacpp runs on the CPU: drop --device {spec.device} or use --backend transformers")
    if not _is_gguf(spec):
        raise ModelLoadError(f"--backend llamacpp runs .gguf files only, and {spec.model} is not one: pass --model FILE.gguf or use --backend transformers")
    path = Path(spec.model).expanduser() / spec.gguf_file if spec.gguf_file else Path(spec.model).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"GGUF file {path} does not exist: fetch it or pass --model with another file")
    if not llama_cpp_installed():
        raise ModelLoadError(f"--backend llamacpp needs llama-cpp-python: {LLAMACPP_INSTALL}")
    from nl2sql_shell.llm.gguf_lora import AdapterConversionError, gguf_adapter
    from nl2sql_shell.llm.llamacpp import load_llamacpp

    try:
        lora = None
        if spec.adapter:
            say(f"converting adapter {spec.adapter} for llama.cpp (once per adapter)")
            lora = str(gguf_adapter(spec.adapter, path, converted_cache_dir()))
        return load_llamacpp(str(path), say, lora=lora)
    except AdapterConversionError as exc:
        raise ModelLoadError(str(exc)) from None
    except (ValueError, OSError, RuntimeError) as exc:
        raise ModelLoadError(f"llama.cpp could not load {path}: {_first_line(exc)}") from None


def _load_openai(spec: ModelSpec, say: Progress) -> Model:
    if not spec.url:
        raise ModelLoadError("--backend openai needs --model-url URL (a server's base URL, such as http://gpu-box:8000/v1)")
    if spec.adapter or spec.quantize != "none" or spec.random_weights or spec.device:
        raise ModelLoadError("--adapter, --quantize and --device do not apply to a model server (--model-url): its own settings do")
    if not spec.url.startswith(("http://", "https://")):
        raise ModelLoadError(f"--model-url {spec.url} is not an http:// or https:// URL")
    from nl2sql_shell.llm.openai_backend import load_openai

    return load_openai(spec.url, spec.model or None, say)


def _load_transformers(spec: ModelSpec, say: Progress):
    from nl2sql_shell.llm.transformers_backend import LoadedModel

    started = time.perf_counter()
    if spec.quantize not in QUANTIZE_CHOICES:
        raise ModelLoadError(f"unknown quantization {spec.quantize!r}: use one of {', '.join(QUANTIZE_CHOICES)}")
    device = resolve_device(spec.device)
    dtype = resolve_dtype(spec.dtype, device)
    if spec.quantize == "8bit":
        # Its int8 matmul logs "inputs will be cast ... to float16" at every forward pass, which
        # would print over the shell while a reply streams; the cast is how it works, not a fault.
        logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    if spec.quantize != "none" and not device.startswith("cuda"):
        warnings.warn(f"--quantize {spec.quantize} on CPU works through bitsandbytes but is slow; a GPU is much faster", stacklevel=2)
        say(f"{spec.quantize} on CPU is slow")
    from transformers.utils import logging as transformers_logging

    # Its progress bars (a GGUF's conversion, the load) would draw over the shell's prompt;
    # `say` reports progress instead.
    transformers_logging.disable_progress_bar()
    try:
        source, gguf = _source(spec, dtype, say)
        model, tokenizer = _load(spec, source, gguf, device, dtype, say)
    except ModelLoadError:
        raise
    except (MemoryError, RuntimeError) as exc:
        if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
            raise ModelLoadError(f"not enough memory to load {spec.model}: try --quantize 4bit or a smaller --model") from None
        raise ModelLoadError(f"could not load {spec.model}: {_first_line(exc)}") from None
    except (OSError, ValueError, ImportError) as exc:
        raise ModelLoadError(_explain_load_failure(spec.model, exc)) from None
    model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, spec=spec, device=device, load_seconds=time.perf_counter() - started)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def _explain_load_failure(name: str, exc: BaseException) -> str:
    local = Path(name).expanduser().exists()
    if local:
        return f"could not load the model at {name}: {_first_line(exc)}"
    if isinstance(exc, ImportError):
        return f"loading {name} needs a package that is missing: {_first_line(exc)}"
    return (
        f"model {name!r} is neither a local folder or .gguf file nor reachable on the Hugging Face hub "
        f"({_first_line(exc)}): pass --model with a local folder or a .gguf file"
    )


def _source(spec: ModelSpec, dtype, say: Progress) -> tuple[str, str | None]:
    """Where from_pretrained reads: a GGUF file is dequantized once into a cached safetensors folder."""
    path = Path(spec.model).expanduser()
    gguf_file = spec.gguf_file
    if not path.exists():
        if path.suffix == ".gguf":
            raise ModelLoadError(f"GGUF file {path} does not exist: fetch it or pass --model with another file")
        if spec.model.startswith(("/", ".", "~")):
            raise ModelLoadError(f"{spec.model} does not exist: pass --model with a model folder, a .gguf file or a hub id")
    if path.is_file() and path.suffix == ".gguf":
        path, gguf_file = path.parent, path.name
    if gguf_file is None:
        return str(path) if path.exists() else spec.model, None
    gguf_path = path / gguf_file
    if not gguf_path.exists():
        raise ModelLoadError(f"GGUF file {gguf_path} does not exist: fetch it or pass --model with another file")
    stat = gguf_path.stat()
    key = hashlib.sha256(f"{gguf_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    cached = converted_cache_dir() / f"{gguf_path.stem}-{key}"
    if (cached / "config.json").exists():
        return str(cached), None
    say(f"converting {gguf_path.name} to safetensors once (about a minute; later loads take seconds)")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers import modeling_gguf_pytorch_utils as gguf_reading

    # its own tqdm bar, which disable_progress_bar does not reach, drew over the prompt
    if not isinstance(gguf_reading.tqdm, functools.partial):
        gguf_reading.tqdm = functools.partial(gguf_reading.tqdm, disable=True)
    model = AutoModelForCausalLM.from_pretrained(str(path), gguf_file=gguf_file, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(path), gguf_file=gguf_file)
    # The weights are already dequantized; transformers still marks the model as GGUF-quantized
    # and refuses to save it. Clear the mark so the plain safetensors copy can be written.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    staging = cached.with_name(cached.name + f".tmp{os.getpid()}")
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        os.replace(staging, cached)
    except OSError:  # another process converted it first
        shutil.rmtree(staging, ignore_errors=True)
    del model
    return str(cached), None


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers at all (any HTTP reply counts)."""
    import httpx

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        httpx.head(endpoint, timeout=timeout)
    except httpx.HTTPError:
        return False
    return True


def _local_only(model_id: str) -> bool:
    """Whether to read a hub model from the local cache alone, asked before transformers tries.

    With no network, huggingface_hub retries each file for about a minute and logs every retry
    over the prompt; when the hub cannot be reached, a cached model loads from the cache at
    once and a model that is not cached is one line saying what to do.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on") or Path(model_id).expanduser().exists():
        return False
    if hub_reachable():
        return False
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model_id, "config.json"), str):
        return True
    raise ModelLoadError(
        f"model {model_id!r} is not on this machine and the Hugging Face hub cannot be reached: "
        "pass --model with a local folder or a .gguf file, or run once with network access to download it"
    )


def _quantization_config(quantize: str, dtype):
    if quantize == "none":
        return None
    from transformers import BitsAndBytesConfig

    if quantize == "4bit":
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype)
    return BitsAndBytesConfig(load_in_8bit=True)


def _load(spec: ModelSpec, source: str, gguf: str | None, device: str, dtype, say: Progress):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    local_only = _local_only(source)
    say(f"loading {spec.model} on {device}" + (" (from the local cache: the hub cannot be reached)" if local_only else ""))
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
    quantization = _quantization_config(spec.quantize, dtype)
    if spec.random_weights:
        config = AutoConfig.from_pretrained(source, local_files_only=local_only)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        if quantization is None:
            model = model.to(device)
        else:  # bitsandbytes quantizes weights as they load: so save the random ones, and load them
            with tempfile.TemporaryDirectory(prefix="nl2sql-random-") as folder:
                model.save_pretrained(folder)
                del model
                model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, device_map={"": device}, quantization_config=quantization)
    else:
        model = AutoModelForCausalLM.from_pretrained(
            source,
            dtype=dtype,
            device_map={"": device},
            quantization_config=quantization,
            local_files_only=local_only,
        )
    if spec.adapter:
        from peft import PeftModel

        say(f"loading adapter {spec.adapter}")
        model = PeftModel.from_pretrained(model, str(Path(spec.adapter).expanduser()))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
