"""LoRA / QLoRA training of an adapter the shell loads with `--adapter DIR`.

The base comes through the shell's own `load_model` (hub id, folder or GGUF file alike) and the
prompts through the shell's own prompt builder, so the adapter is trained on exactly what it
will be asked. transformers' Trainer does the loop: schedule, checkpoints, resume, logging.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import signal
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
from transformers import DataCollatorForSeq2Seq, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from nl2sql_shell.finetune.card import Card, write_card
from nl2sql_shell.finetune.check import CheckResult, heldout_check
from nl2sql_shell.finetune.data import IGNORE_INDEX, DataError, encode_pairs, read_pairs, split_pairs, with_refusals
from nl2sql_shell.finetune.suite_pairs import is_suite, suite_answers, suite_pairs
from nl2sql_shell.llm.load import load_model, resolve_device
from nl2sql_shell.model_choice import resolve_spec

ALL_LINEAR = "all-linear"  # peft: every linear projection of the blocks, never the output head

Progress = Callable[[str], None]


class FinetuneError(RuntimeError):
    """A run that cannot start as asked; the message is one line a user can act on."""


@dataclass
class TrainConfig:
    """Every choice of a run; `nl2sql-shell finetune` flags map one to one onto these fields."""

    data: Path
    output: Path
    model: str | None = None  # None: the shell's default model
    device: str | None = None
    qlora: bool = False
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    learning_rate: float = 1e-4
    rank: int = 16
    alpha: int = 16
    dropout: float = 0.05
    target_modules: Sequence[str] | None = None  # None: all linear projections present
    batch_size: int = 4
    grad_accum: int = 4
    max_length: int = 1024
    eval_split: float = 0.05
    warmup: float = 0.03  # fraction of the steps spent warming the learning rate up
    save_steps: int = 100  # checkpoint (and held-out loss) every N optimizer steps
    logging_steps: int = 10
    resume: bool = False
    db: str | None = None  # conninfo for the held-out execution match
    limit: int | None = None
    refusals: float = 0.0  # unanswerable pairs added to training, as a fraction of it (data.with_refusals)
    check_limit: int | None = 100  # held-out pairs answered by generation after training
    seed: int = 42


@dataclass
class TrainResult:
    """What a run did; `interrupted` runs stop at a checkpoint and write no adapter or card."""

    output: Path
    global_step: int
    interrupted: bool
    log_history: list[dict[str, float]] = field(default_factory=list)
    check: CheckResult | None = None
    checkpoint: Path | None = None

    def losses(self, key: str = "loss") -> list[float]:
        """The logged values of `key` in order: "loss" for training, "eval_loss" for held-out."""
        return [entry[key] for entry in self.log_history if key in entry]


class StopOnInterrupt(TrainerCallback):
    """First Ctrl-C: finish the current step, save a checkpoint and stop. Second: abort at once.

    Saving through the Trainer's own checkpoint path (rather than from a signal handler) writes
    the optimizer, scheduler and RNG state too, so `--resume` continues as if never stopped.
    """

    def __init__(self, progress: Progress) -> None:
        self.interrupted = False
        self._progress = progress
        self._previous: Any = None

    def __enter__(self) -> StopOnInterrupt:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: Ctrl-C is not ours to handle
            self._previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: object) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        self._progress("Interrupted: saving a checkpoint after this step (Ctrl-C again to abort without saving).")

    def on_step_end(self, args, state, control, **kwargs):
        if self.interrupted:
            control.should_save = True
            control.should_training_stop = True
        return control


def _settings(config: TrainConfig, target_modules: Sequence[str]) -> dict[str, Any]:
    """The hyper-parameters as the card lists them."""
    keys = ("qlora", "epochs", "max_steps", "learning_rate", "rank", "alpha", "dropout", "batch_size",
            "grad_accum", "max_length", "eval_split", "warmup", "refusals", "seed")
    values = {key: value for key, value in asdict(config).items() if key in keys}
    values["target_modules"] = ", ".join(sorted(target_modules))
    values["schedule"] = "linear with warm-up"
    return values


def _load_base(config: TrainConfig, progress: Progress):
    """The base through the shell's loader: 4-bit nf4 + double quantization for QLoRA, else
    the loader's default precision (bf16 on CUDA, fp32 on CPU)."""
    spec = resolve_spec(config.model, None, "4bit" if config.qlora else "none", config.device)
    if Path(spec.model).expanduser().exists():  # record a path that works from any folder
        spec.model = str(Path(spec.model).expanduser().resolve())
    if config.qlora and not resolve_device(spec.device).startswith("cuda"):
        progress("warning: QLoRA training on CPU runs through bitsandbytes' CPU kernels and is slow; going on.")
    return load_model(spec, progress=progress), spec


def _prepare_output(config: TrainConfig) -> str | None:
    """The checkpoint to resume from, after refusing to mix a new run into an old one's folder."""
    last = get_last_checkpoint(str(config.output)) if config.output.is_dir() else None
    if config.resume:
        if last is None:
            raise FinetuneError(f"{config.output}: no checkpoint to resume from")
        _same_adapter(Path(last), config)
        return last
    if last is not None:
        raise FinetuneError(f"{config.output} already holds checkpoints: pass --resume to continue, or choose another --output")
    try:  # told now, not after the model's load and the first steps
        config.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FinetuneError(f"--output {config.output}: {exc.strerror}") from None
    return None


def _same_adapter(checkpoint: Path, config: TrainConfig) -> None:
    """A checkpoint resumes only with the adapter's shape it was trained with: another
    --rank ended in a 50-line traceback (size mismatch) after the model's load."""
    try:
        saved = json.loads((checkpoint / "adapter_config.json").read_text())
    except (OSError, ValueError):
        return  # (transformers says what is missing)
    for flag, key, value in (("--rank", "r", config.rank), ("--alpha", "lora_alpha", config.alpha)):
        if key in saved and saved[key] != value:
            raise FinetuneError(f"{checkpoint} was trained with {flag} {saved[key]}, not {value}: resume with the same settings")


def train(config: TrainConfig, *, progress: Progress = print, callbacks: Sequence[TrainerCallback] = ()) -> TrainResult:
    """Train an adapter into `config.output`: checkpoints, then adapter, tokenizer and README.md."""
    config.output = Path(config.output)
    if config.db:  # told now, not after the training
        try:
            psycopg.connect(config.db, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise DataError(f"--db: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__}") from None
    suite = is_suite(Path(config.data))
    if suite:  # a broken suite told before the output folder is made and the model loads
        suite_answers(Path(config.data), limit=config.limit, refusals=config.refusals)
    else:
        pairs = read_pairs(config.data, config.limit)
    resume_from = _prepare_output(config)
    if suite:  # its prompts come from the pipeline, which links with the model's tokenizer
        loaded, spec = _load_base(config, progress)
        pairs = suite_pairs(Path(config.data), loaded, limit=config.limit, refusals=config.refusals, progress=progress)  # idk.csv's refusals included
        train_pairs, held_pairs = split_pairs(pairs, config.eval_split, config.seed)
    else:
        train_pairs, held_pairs = split_pairs(pairs, config.eval_split, config.seed)
        train_pairs = with_refusals(train_pairs, config.refusals, config.seed)  # training only: the held-out check scores SQL
        loaded, spec = _load_base(config, progress)
    tokenizer = loaded.tokenizer
    train_set, dropped = encode_pairs(tokenizer, loaded.chat_prompt, train_pairs, config.max_length)
    eval_set, dropped_eval = encode_pairs(tokenizer, loaded.chat_prompt, held_pairs, config.max_length)
    dropped += dropped_eval
    if not train_set:
        raise DataError(f"{config.data}: every training pair is longer than --max-length {config.max_length}")
    progress(f"{len(train_set)} training pairs, {len(eval_set)} held out"
             + (f"; {dropped} longer than {config.max_length} tokens left out" if dropped else ""))
    model, target_modules = _lora_model(loaded.model, config, spec.model)
    progress(f"LoRA on {', '.join(target_modules)}: {_trainable(model)}")

    stopper = StopOnInterrupt(progress)
    trainer = Trainer(
        model=model,
        args=_training_arguments(config, cuda=loaded.device.startswith("cuda"), evaluate=bool(eval_set), pairs=len(train_set)),
        train_dataset=train_set,
        eval_dataset=eval_set or None,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX),
        processing_class=tokenizer,
        callbacks=[*callbacks, stopper],
    )
    with stopper:
        trainer.train(resume_from_checkpoint=resume_from)
    result = TrainResult(config.output, trainer.state.global_step, stopper.interrupted, list(trainer.state.log_history))
    if stopper.interrupted:
        result.checkpoint = Path(get_last_checkpoint(str(config.output)))
        return result

    model.save_pretrained(config.output)
    tokenizer.save_pretrained(config.output)
    eval_loss = _final_eval_loss(trainer) if eval_set else None
    model.eval()
    check_pairs = held_pairs[: config.check_limit] if config.check_limit is not None else held_pairs
    if check_pairs:
        progress(f"Held-out check: greedy answers to {len(check_pairs)} questions...")
        result.check = heldout_check(loaded, check_pairs, conninfo=config.db, on_pair=_every(10, progress))
        progress(f"Held-out: {result.check.summary()}")
    train_losses = result.losses("loss")
    write_card(
        Card(
            base_model=spec.model,
            data_file=str(Path(config.data).resolve()),
            train_count=len(train_set),
            eval_count=len(eval_set),
            dropped=dropped,
            settings=_settings(config, target_modules),
            global_step=result.global_step,
            train_loss=train_losses[-1] if train_losses else None,
            eval_loss=eval_loss,
            check=result.check,
            date=_dt.date.today(),
        ),
        config.output,
    )
    return result


def _lora_model(model, config: TrainConfig, base_name: str):
    """The base wrapped with LoRA layers (after k-bit preparation for QLoRA), and the short
    names of the modules that got them.

    peft injects the layers into the base in place, so the LoadedModel that holds the base
    generates with the adapter too: the held-out check needs no second load.
    """
    if config.qlora:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules) if config.target_modules else ALL_LINEAR,
        task_type="CAUSAL_LM",
    )
    try:
        model = get_peft_model(model, lora)
    except ValueError as exc:  # e.g. a --target-modules name the architecture does not have
        raise FinetuneError(f"LoRA: {str(exc).splitlines()[0]}") from None
    adapter_config = model.peft_config["default"]
    adapter_config.base_model_name_or_path = base_name  # as the user named it (e.g. the .gguf file)
    return model, sorted({name.rsplit(".", 1)[-1] for name in adapter_config.target_modules})


def _warmup_steps(config: TrainConfig, pairs: int) -> int:
    """The warm-up in whole optimizer steps, rounded down. transformers rounds a fraction up,
    and a warm-up's first step runs at learning rate 0: a run of one step (up to 16 pairs at
    the defaults) wrote an adapter that was never trained, and said nothing."""
    per_epoch = max(1, math.ceil(pairs / config.batch_size) // config.grad_accum)
    total = config.max_steps if config.max_steps > 0 else math.ceil(per_epoch * config.epochs)
    return int(total * config.warmup)


def _training_arguments(config: TrainConfig, *, cuda: bool, evaluate: bool, pairs: int) -> TrainingArguments:
    """Linear schedule with warm-up; a checkpoint (and held-out loss) every save_steps."""
    return TrainingArguments(
        output_dir=str(config.output),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=_warmup_steps(config, pairs),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=config.save_steps,
        bf16=cuda,
        use_cpu=not cuda,
        activation_checkpointing=config.qlora,
        remove_unused_columns=False,
        report_to="none",
        disable_tqdm=False,
        seed=config.seed,
    )


def _every(n: int, progress: Progress) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        if done % n == 0 or done == total:
            progress(f"  {done}/{total}")
    return report


def _final_eval_loss(trainer: Trainer) -> float:
    """The held-out loss of the final weights: logged already when the last step was an eval step."""
    last = trainer.state.log_history[-2:]  # an eval at the last step is followed by the run summary
    for entry in last:
        if "eval_loss" in entry and entry.get("step") == trainer.state.global_step:
            return entry["eval_loss"]
    return trainer.evaluate()["eval_loss"]


def _trainable(model) -> str:
    trainable, total = model.get_nb_trainable_parameters()
    return f"{trainable:,} trainable parameters of {total:,} ({100 * trainable / total:.2f}%)"
