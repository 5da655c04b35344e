"""Question to SQL: prompt, generation, checks, corrections and the pipeline that ties them.

Only the default below lives here, so that the command line can show it without importing
the pipeline (and sqlglot with it) at start-up.
"""

# The first answer is 4 queries from one batch (the greedy one first) and the checked ones vote
# by their rows: on every sixth benchmark question that answered 10 of 32 against 6 of 32 for
# the greedy query alone, in no more time (a batch of 4 costs ~1.3x one sequence on a CPU).
DEFAULT_CANDIDATES = 4

# Write the greedy query alone first and the samples only when it fails the checks (or is not
# proven harmless, so the vote could not run it). On dev and bench/unfamiliar the vote never
# made a passing greedy query's answer right (docs/benchmarks.md).
GREEDY_FIRST = False
