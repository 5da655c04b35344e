"""`nl2sql-shell finetune` end to end on CPU: a tiny real model, real Spider pairs, real peft."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file
from tinymodel import build_tiny_model
from transformers import AutoModelForCausalLM, TrainerCallback

from nl2sql_shell.finetune.command import finetune
from nl2sql_shell.finetune.data import IGNORE_INDEX, Pair, encode, prompt_text, read_pairs, split_pairs
from nl2sql_shell.finetune.train import TrainConfig, train
from nl2sql_shell.llm.load import ModelSpec, load_model
from nl2sql_shell.nl2sql.prompt import build_messages, format_answer

SPIDER = Path(__file__).resolve().parents[2].parent / "shared" / "train" / "spider_train_create_context.jsonl"
pytestmark = pytest.mark.skipif(not SPIDER.exists(), reason="needs ../shared/train")

# Few, short, high-learning-rate steps: enough for a random tiny model to move visibly.
FAST = ["--limit", "40", "--eval-split", "0.1", "--batch-size", "2", "--grad-accum", "1", "--lr", "5e-3",
        "--logging-steps", "2", "--check-limit", "0", "--max-length", "2048", "--seed", "0"]


def run_finetune(*args: str):
    return CliRunner().invoke(finetune, list(args), catch_exceptions=False)


def trainer_state(output: Path) -> dict:
    last = max(output.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return json.loads((last / "trainer_state.json").read_text())


def greedy(loaded, pair: Pair, tokens: int = 24) -> str:
    return loaded.generate(loaded.chat_prompt(build_messages(pair.context, pair.question)), max_new_tokens=tokens, stop=())[0].text


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("base") / "tiny", arch="llama")


@pytest.fixture(scope="module")
def trained(base, tmp_path_factory) -> Path:
    """One 12-step LoRA run through the CLI, shared by the tests that only read its output
    (with a quarter as many unanswerable pairs added to the 36 it trains on)."""
    output = tmp_path_factory.mktemp("adapter") / "out"
    result = run_finetune("--data", str(SPIDER), "--model", str(base), "--output", str(output),
                          "--max-steps", "12", "--save-steps", "6", *FAST, "--check-limit", "1", "--refusals", "0.25")
    assert result.exit_code == 0, result.output
    return output


@pytest.fixture(scope="module")
def held_pair() -> Pair:
    return split_pairs(read_pairs(SPIDER, 40), 0.1, 0)[1][0]


def test_training_lowers_the_loss_and_writes_adapter_and_card(trained, base):
    losses = [entry["loss"] for entry in trainer_state(trained)["log_history"] if "loss" in entry]
    assert len(losses) >= 5
    assert losses[-1] < losses[0] - 0.1
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer_config.json", "README.md"):
        assert (trained / name).is_file(), name
    card = (trained / "README.md").read_text()
    assert str(base) in card and "45 training pairs, 4 held out" in card and "| refusals | 0.25 |" in card
    assert re.search(r"exact match [01]/1 ", card)
    assert f"--adapter {trained}" in card
    assert "q_proj" in card and "down_proj" in card  # every linear projection by default


def test_adapter_reloads_through_the_shell_loader_and_changes_answers(trained, base, held_pair):
    plain = load_model(ModelSpec(model=str(base)))
    tuned = load_model(ModelSpec(model=str(base), adapter=str(trained)))
    assert greedy(tuned, held_pair) != greedy(plain, held_pair)


def test_resume_continues_from_the_last_checkpoint(trained, base, tmp_path):
    output = tmp_path / "out"
    shutil.copytree(trained, output)
    first_run = [entry for entry in trainer_state(output)["log_history"] if "loss" in entry]
    args = ["--data", str(SPIDER), "--model", str(base), "--output", str(output), "--max-steps", "16", "--save-steps", "4", *FAST]
    again = run_finetune(*args)
    assert again.exit_code != 0 and "--resume" in again.output  # no silent restart over old checkpoints
    result = run_finetune(*args, "--resume")
    assert result.exit_code == 0, result.output
    state = trainer_state(output)
    assert state["global_step"] == 16
    resumed = [entry for entry in state["log_history"] if "loss" in entry]
    assert resumed[: len(first_run)] == first_run  # the first run's history, then more steps
    assert [entry["step"] for entry in resumed[len(first_run):]] == [14, 16]
    other_rank = run_finetune(*args, "--max-steps", "20", "--resume", "--rank", "4")  # another shape: one line, before the model loads
    assert other_rank.exit_code != 0 and "was trained with --rank 16, not 4" in other_rank.output and "Traceback" not in other_rank.output


def test_ctrl_c_saves_a_checkpoint_that_resume_continues(base, tmp_path):
    class InterruptAtStep2(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 2:
                os.kill(os.getpid(), signal.SIGINT)

    config = TrainConfig(data=SPIDER, output=tmp_path / "out", model=str(base), max_steps=5, save_steps=100,
                         limit=16, eval_split=0.0, batch_size=2, grad_accum=1, max_length=2048)
    result = train(config, progress=lambda _: None, callbacks=[InterruptAtStep2()])
    assert result.interrupted and result.global_step == 2
    assert result.checkpoint == config.output / "checkpoint-2"
    assert not (config.output / "adapter_model.safetensors").exists()
    config.resume = True
    resumed = train(config, progress=lambda _: None)
    assert not resumed.interrupted and resumed.global_step == 5
    assert (config.output / "adapter_model.safetensors").is_file()


def test_qlora_trains_on_cpu_through_bitsandbytes(base, tmp_path):
    output = tmp_path / "q"
    result = run_finetune("--data", str(SPIDER), "--model", str(base), "--output", str(output), "--qlora",
                          "--max-steps", "2", "--save-steps", "2", *FAST, "--limit", "8", "--batch-size", "1", "--eval-split", "0")
    assert result.exit_code == 0, result.output
    assert "CPU" in result.output and "slow" in result.output
    assert (output / "adapter_model.safetensors").is_file()
    assert "| qlora | True |" in (output / "README.md").read_text()


def test_a_run_of_one_step_trains_the_adapter(base, tmp_path):
    """A warm-up's first step runs at learning rate 0, and transformers rounds the warm-up up
    to one step: a run of one step (16 pairs at the defaults) wrote an adapter of zeros."""
    output = tmp_path / "one"
    result = run_finetune("--data", str(SPIDER), "--model", str(base), "--output", str(output), *FAST, "--limit", "4", "--eval-split", "0", "--grad-accum", "2")
    assert result.exit_code == 0, result.output
    assert trainer_state(output)["global_step"] == 1
    weights = load_file(output / "adapter_model.safetensors")
    assert max(float(w.abs().max()) for name, w in weights.items() if "lora_B" in name) > 0


def test_merge_gives_the_same_greedy_answers_as_base_plus_adapter(trained, base, held_pair, tmp_path):
    merged_dir = tmp_path / "merged"
    result = CliRunner().invoke(finetune, ["merge", "--adapter", str(trained), "--output", str(merged_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    tuned = load_model(ModelSpec(model=str(base), adapter=str(trained), dtype="float32"))
    ids = tuned.tokenizer(tuned.chat_prompt(build_messages(held_pair.context, held_pair.question)),
                          add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = tuned.model.generate(ids, do_sample=False, max_new_tokens=24)
        got = merged.generate(ids, do_sample=False, max_new_tokens=24)
    assert got.tolist() == expected.tolist()


def test_merge_of_a_folder_that_is_no_adapter_says_so_in_one_line(tmp_path, monkeypatch):
    """A relative folder name without adapter_config.json is not looked up on the hub as a model id."""
    (tmp_path / "weights").mkdir()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(finetune, ["merge", "--adapter", "weights", "--output", "merged"])
    assert result.exit_code == 1 and result.output.splitlines() == ["Error: --adapter weights: no adapter_config.json there (not an adapter folder that finetune wrote)"]
    assert not (tmp_path / "merged").exists()


def test_training_prompt_is_the_inference_prompt(base, held_pair):
    loaded = load_model(ModelSpec(model=str(base)))
    inference = loaded.chat_prompt(build_messages(held_pair.context, held_pair.question))  # what the pipeline sends
    assert prompt_text(loaded.chat_prompt, held_pair) == inference
    example = encode(loaded.tokenizer, inference, held_pair.answer, max_length=4096)
    prompt_len = example["labels"].count(IGNORE_INDEX)
    assert loaded.tokenizer.decode(example["input_ids"][:prompt_len]) == inference
    assert loaded.tokenizer.decode(example["labels"][prompt_len:]) == format_answer(held_pair.answer) + loaded.tokenizer.eos_token


@pytest.mark.parametrize(
    ("content", "message", "code"),
    [
        (None, "Invalid value for '--data'", 2),  # click's usage error, before torch is imported
        ('{"question": "q", "context": "c", "answer": "a"}\nnot json\n', ":2: not a JSON object", 1),
        ('{"question": "q", "context": "c"}\n', ":1: missing or empty key(s) answer", 1),
    ],
)
def test_bad_data_file_is_one_line_error(tmp_path, content, message, code):
    data = tmp_path / "pairs.jsonl"
    if content is not None:
        data.write_text(content)
    result = CliRunner().invoke(finetune, ["--data", str(data), "--model", "unused", "--output", str(tmp_path / "o")])
    assert result.exit_code == code
    assert not (tmp_path / "o").exists()  # no empty --output folder left behind
    lines = [line for line in result.output.strip().splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output


@pytest.mark.skipif(os.geteuid() != 0, reason="making a link another user owns needs root")
def test_an_output_folder_or_readme_another_user_planted_is_refused_before_training(tmp_path):
    """--output in a shared folder: root's finetune wrote the model card through a README.md
    link another user had put there (over any file of root's), after training for minutes."""
    data = tmp_path / "pairs.jsonl"
    data.write_text('{"question": "q", "context": "CREATE TABLE t (a int)", "answer": "SELECT a FROM t"}\n')
    (tmp_path / "precious").write_text("root's own file\n")
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    (shared / "out").mkdir()
    (shared / "out" / "README.md").symlink_to(tmp_path / "precious")
    os.lchown(shared / "out" / "README.md", 65534, 65534)
    result = CliRunner().invoke(finetune, ["--data", str(data), "--model", "unused", "--output", str(shared / "out")])
    assert result.exit_code == 1 and result.output.splitlines()[-1] == f"Error: --output {shared / 'out'}: README.md is a link another user made; not followed"
    os.chown(shared / "out", 65534, 65534)
    result = CliRunner().invoke(finetune, ["--data", str(data), "--model", "unused", "--output", str(shared / "out")])
    assert result.exit_code == 1 and result.output.splitlines()[-1] == f"Error: --output {shared / 'out'}: another user's folder; not used"
    assert (tmp_path / "precious").read_text() == "root's own file\n"
