"""Question to SQL: prompt, generation, checks, corrections and the pipeline that ties them.

Only the default below lives here, so that the command line can show it without importing
the pipeline (and sqlglot with it) at start-up.
"""

# Up to 4 queries (the greedy one first) and the checked ones vote by their rows: on every sixth
# benchmark question that answered 10 of 32 against 6 of 32 for the greedy query alone (the
# gain is where the greedy query fails the checks: see GREEDY_FIRST). 8 and 16 answered no
# more (docs/benchmarks.md, fifteenth session).
DEFAULT_CANDIDATES = 4

# Write the greedy query alone first and the samples only when it fails the checks (or is not
# proven harmless, so the vote could not run it): on dev and bench/unfamiliar the vote never
# made a passing greedy query's answer right, and half the questions then need no samples
# (p50 3.1 s against 5.3-5.7 s, as many right answers; docs/benchmarks.md, fourteenth session).
GREEDY_FIRST = True

# Tokens of schema text a prompt may hold; a larger schema is linked down to the tables the
# question names (schema/linking.py).
SCHEMA_BUDGET_TOKENS = 3000

# Ask the database whether a proven candidate's comparisons with text values match any row
# (literals.py); one that matches none is not trusted alone, and the candidates whose values
# exist are voted on first. On dev every 4th it answered one more question (a peak "in Nepal"
# looked up on the mountains, not on a state), and lost none there, on the tuning half or
# on the validation half (docs/benchmarks.md, sixteenth session).
CHECK_VALUES = True

# Refuse a question that has a content word nothing in the database matches (schema/grounding.py)
# when the model itself gives its refusal at least this log-probability: its doubt is the second
# piece of evidence. exp(-5.5) is about 0.4%. Tuned on dev (idk rightly refused, every question:
# 74 -> 87 of 105, one answerable question refused, a wrong answer) and the tuning half of
# bench/unfamiliar (6 -> 11 of 14, none); docs/benchmarks.md, seventeenth session. None: off.
REFUSAL_DOUBT_LOGPROB = -5.5

# When the greedy query fails the checks on a schema with prefixed or quoted camelCase names,
# the greedy query on those names in words (schema/readable.py) is tried before the samples,
# and stands alone when it passes. Tuning half of bench/unfamiliar 7 -> 9 of 36, then the
# validation half, never tuned on, 5 -> 6 of 36; no answer lost on either, abstention the same.
# Dev cannot move: none of its names reads otherwise (docs/benchmarks.md, nineteenth session).
WORDS_RETRY = True
