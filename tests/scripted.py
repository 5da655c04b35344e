"""A stand-in model for pipeline tests that need exact replies rather than a trained one."""

from __future__ import annotations

from types import SimpleNamespace


class Scripted:
    """Writes the given replies, one per candidate numbered from `first` (the last one repeated
    when more are asked), as the seeded backends number theirs."""

    grammar = False  # decoding cannot be constrained (Model.grammar)
    doubt: float | None = None  # what logprob() says of any text: None, as a backend that cannot tell
    finish = "stop"  # why every reply ended (Generation.finish): "length" when the token limit cut it

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def chat_prompt(self, messages) -> str:
        return "\n".join(m["content"] for m in messages)

    def chat_prefix(self, messages) -> str:
        return self.chat_prompt(messages)

    def logprob(self, prompt: str, text: str, *, prefix: str | None = None) -> float | None:
        return self.doubt

    def generate(self, prompt: str, *, n: int = 1, first: int = 0, **options):
        replies = [self.replies[min(i, len(self.replies) - 1)] for i in range(first, first + n)]
        return [SimpleNamespace(text=reply, prompt_tokens=1, new_tokens=1, seconds_to_first_token=0.0, seconds_total=0.0, finish=self.finish) for reply in replies]


class Counting(Scripted):
    """Scripted, with each generate call written down as (first, n): which candidates the
    pipeline asked for, and in how many calls."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.calls: list[tuple[int, int]] = []

    def generate(self, prompt: str, *, n: int = 1, first: int = 0, **options):
        self.calls.append((first, n))
        return super().generate(prompt, n=n, first=first, **options)


class Recording(Scripted):
    """Scripted, with every prompt it was given."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.prompts: list[str] = []

    def generate(self, prompt: str, **options):
        self.prompts.append(prompt)
        return super().generate(prompt, **options)


class InTurn(Scripted):
    """One reply per call, in order (a repair round gets the next one), and every prompt it
    was given."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.prompts: list[str] = []

    def generate(self, prompt: str, *, n: int = 1, **options):
        self.prompts.append(prompt)
        return Scripted([self.replies[len(self.prompts) - 1]]).generate(prompt, n=n)


class EachCall(Scripted):
    """One scripted batch per generate call, in order, and every call's (first, n, prompt)."""

    def __init__(self, batches: list[list[str]]) -> None:
        super().__init__([])
        self.batches = batches
        self.calls: list[tuple[int, int, str]] = []

    def generate(self, prompt: str, *, n: int = 1, first: int = 0, **options):
        self.calls.append((first, n, prompt))
        return Scripted(self.batches[len(self.calls) - 1]).generate(prompt, n=n)


# A shop with three products, and exact candidates for "which products are cheap": the vote's
# tests (more candidates, greedy first, refusal votes) script the model with these.
PRODUCTS = """
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric NOT NULL);
INSERT INTO products VALUES (1, 'pen', 2), (2, 'desk', 150), (3, 'lamp', 40);
"""
CHEAP = "SELECT name FROM products WHERE price < 50;"
DEAR = "SELECT name FROM products WHERE price >= 50;"
BROKEN = "SELECT title FROM products;"


def words(sql: str) -> list[str]:
    """A query's words without its semicolon: the pipeline's SQL, compared with a script's."""
    return sql.rstrip(";").split()
