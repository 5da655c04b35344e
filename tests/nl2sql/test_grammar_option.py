"""The pipeline hands the schema's grammar to a backend that can use it (Options.grammar), and
to no other: a scripted model writes down what it was given; the checks run on a real server."""

from __future__ import annotations

from conftest import database_fixture
from scripted import BROKEN, CHEAP, PRODUCTS, Scripted

from nl2sql_shell.nl2sql.pipeline import Asker, Options

SCHEMA = PRODUCTS + "CREATE TABLE suppliers (id int PRIMARY KEY, \"contactName\" text);"


class Constrainable(Scripted):
    """Scripted, for a backend whose decoding a grammar can constrain; keeps each call's grammar."""

    grammar = True

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.grammars: list[str | None] = []

    def generate(self, prompt: str, *, n: int = 1, first: int = 0, grammar: str | None = None, **options):
        self.grammars.append(grammar)
        return super().generate(prompt, n=n, first=first, **options)


conn = database_fixture("grammar_option", SCHEMA)


def test_every_generation_gets_the_grammar_of_the_tables_the_prompt_shows(conn):
    model = Constrainable([BROKEN, CHEAP, CHEAP, CHEAP])
    answer = Asker(model, Options(grammar=True, max_repairs=1, words_retry=False)).ask("which products are cheap", conn)
    assert answer.kind == "read" and len(model.grammars) == 2 and model.grammars[0] == model.grammars[1]  # the greedy query, then the samples
    known = model.grammars[0].split("known ::= ")[1]
    assert '"price"' in known and '"name"' in known
    assert ('"\\"contactName\\""' in known) == ("public.suppliers" in answer.tables)  # the names of the tables shown, no others


def test_the_greedy_query_in_words_gets_the_grammar_of_the_names_in_words(conn):
    model = Constrainable([BROKEN, BROKEN, CHEAP, CHEAP])
    answer = Asker(model, Options(grammar=True, max_repairs=0, words_retry=True)).ask("which products are cheap, and the contact name of suppliers", conn)
    assert answer.kind == "read" and len(model.grammars) == 3  # the greedy query, the one in words, the samples
    assert model.grammars[0] == model.grammars[2] and '"\\"contactName\\""' in model.grammars[0]
    assert '"contact_name"' in model.grammars[1] and "contactName" not in model.grammars[1]


def test_no_grammar_unless_asked_for_and_the_backend_can(conn):
    for model, options in ((Constrainable([CHEAP]), Options()), (Constrainable([CHEAP]), Options(grammar=True, prompt_style="raw"))):
        Asker(model, options).ask("which products are cheap", conn)
        assert model.grammars == [None]
    plain = Scripted([CHEAP])  # no grammar flag: a backend that cannot takes none
    assert Asker(plain, Options(grammar=True)).ask("which products are cheap", conn).kind == "read"
