"""Fine-tuning on a benchmark suite: each pair is the prompt the shell really sends for that
question on its loaded database (a real PostgreSQL server), answered with the gold query."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from scripted import InTurn
from tinymodel import build_tiny_model

from nl2sql_shell.db.embedded import DATA_DIR_ENV
from nl2sql_shell.finetune.command import finetune
from nl2sql_shell.finetune.data import DataError, prompt_text
from nl2sql_shell.finetune.suite_pairs import suite_pairs
from nl2sql_shell.finetune.train import TrainConfig, train
from nl2sql_shell.nl2sql.pipeline import Asker
from nl2sql_shell.nl2sql.prompt import REFUSAL_SQL

DUMP = """
CREATE TABLE public.courier (courier_id bigint NOT NULL, full_name text, hired date);
CREATE TABLE public.parcel (parcel_id bigint NOT NULL, courier_id bigint, weight_kg numeric, city text);
INSERT INTO public.courier VALUES (1, 'Ada Lind', '2024-01-05'), (2, 'Bo Ek', '2025-03-01');
INSERT INTO public.parcel VALUES (10, 1, 2.5, 'Oslo'), (11, 1, 7.0, 'Bergen'), (12, 2, 1.2, 'Oslo');
"""
DESCRIPTIONS = {"table_metadata": {"parcel": [{"column_name": "weight_kg", "data_type": "numeric", "column_description": "Weight of the parcel in kilograms"}]}}
QUESTIONS = '''question,query,db_name,query_category,instructions
How many parcels went to Oslo?,SELECT count(*) FROM parcel WHERE city = 'Oslo';,post,where,
"Which courier carried the heaviest parcel?","SELECT {c.full_name, c.courier_id} FROM courier c JOIN parcel p ON p.courier_id = c.courier_id ORDER BY p.weight_kg DESC LIMIT 1;SELECT c.full_name FROM courier c WHERE c.courier_id = 1;",post,order_by,Heavy means by weight_kg.
What is the average parcel weight?,SELECT avg(weight_kg) FROM parcel;,post,aggregation,
'''
INSTRUCTIONS = {"Which courier carried the heaviest parcel?": "Heavy means by weight_kg."}  # as eval asks it
IDK = '''question,instructions,query,db_name,query_category
What is each courier's salary?,,SELECT 'no' AS answer;,post,idk
Which parcels were insured?,,SELECT 'no' AS answer;,post,idk
'''


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("suite")
    (root / "dbs").mkdir()
    (root / "dbs" / "post.sql").write_text(DUMP)
    (root / "dbs" / "post.json").write_text(json.dumps(DESCRIPTIONS))
    (root / "questions.csv").write_text(QUESTIONS)
    (root / "idk.csv").write_text(IDK)
    return root


def test_each_pair_is_the_prompt_the_shell_sends_for_its_question(suite, pg_server):
    model = InTurn(["SELECT 1"] * 10)
    pairs = suite_pairs(suite, model, refusals=1 / 3, dsn=pg_server.conninfo("postgres"))
    assert [p.question for p in pairs] == ["How many parcels went to Oslo?", "Which courier carried the heaviest parcel?",
                                           "What is the average parcel weight?", "What is each courier's salary?"]
    answered = {p.question: p for p in pairs}
    with psycopg.connect(pg_server.conninfo("post"), autocommit=True) as conn:  # the copy the suite loaded
        asker = Asker(model)
        for pair in pairs:
            asker.ask(pair.question, conn, hint=INSTRUCTIONS.get(pair.question), check_grounding=False)
            assert prompt_text(model.chat_prompt, pair) == model.prompts[-1]
    heaviest = answered["Which courier carried the heaviest parcel?"]
    assert heaviest.answer.startswith("SELECT c.full_name, c.courier_id FROM courier c JOIN parcel")  # the first alternative, every column
    assert heaviest.hint == "Heavy means by weight_kg."
    assert "Weight of the parcel in kilograms" in heaviest.context  # the column comment the suite's json gave the live database
    refusals = [p for p in pairs if p.answer == REFUSAL_SQL]
    assert [p.question for p in refusals] == ["What is each courier's salary?"]  # a third as many as the 3 questions


def test_limit_spreads_the_questions_over_the_suite(suite, pg_server):
    pairs = suite_pairs(suite, InTurn(["SELECT 1"]), limit=2, dsn=pg_server.conninfo("postgres"))
    assert [p.question for p in pairs] == ["How many parcels went to Oslo?", "Which courier carried the heaviest parcel?"]


def test_finetune_trains_on_a_suite_folder(suite, reachable_tmp, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(reachable_tmp / "finetune-pg"))  # the embedded server, in a folder of its own
    base = build_tiny_model(tmp_path / "tiny", arch="qwen2")
    config = TrainConfig(data=suite, output=tmp_path / "adapter", model=str(base), device="cpu", max_steps=2, batch_size=1,
                         grad_accum=1, learning_rate=5e-3, eval_split=0.0, check_limit=0, refusals=1.0, max_length=4096)
    result = train(config, progress=lambda _: None)
    assert result.global_step == 2 and not result.interrupted
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    card = (tmp_path / "adapter" / "README.md").read_text()
    assert "- 5 training pairs, 0 held out" in card  # 3 questions and both of idk.csv's
    assert str(suite) in card


def test_a_dump_that_does_not_load_is_one_line_naming_the_database(suite, pg_server, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(suite, broken)
    (broken / "dbs" / "post.sql").write_text("CREATE TABLE courier (courier_id bigint,;\n")
    with pytest.raises(DataError) as caught:
        suite_pairs(broken, InTurn(["SELECT 1"]), dsn=pg_server.conninfo("postgres"))
    assert str(caught.value) == f'{broken}: database post: {broken}/dbs/post.sql:1: ERROR:  syntax error at or near ";"'


def test_a_folder_that_is_not_a_suite_is_one_line(tmp_path):
    result = CliRunner().invoke(finetune, ["--data", str(tmp_path), "--model", "unused", "--output", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path}: a folder, but not a suite (one holds questions.csv and dbs/)\n"
