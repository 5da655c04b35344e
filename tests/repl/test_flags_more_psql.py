"""More of psql 15's command line, scripts and output, compared byte for byte (stdout, stderr,
exit code) with /usr/bin/psql on the same server: the output flags in command-line order."""

from __future__ import annotations

import pytest
from psqlcompare import PSQL, same

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

TWO_ROWS = "select 1 as a, 2 as b union all select 3, 4"


@pytest.mark.parametrize(
    "flags",
    [
        "-A -P fieldsep=x -F y",
        "-A -F y -P fieldsep=x",
        "-A -R y -P recordsep=x",
        "-A -P recordsep=x -R y",
        "-A -z -P fieldsep=x",
        "-A -P fieldsep=x -z",
        "-A -z -F q",
        "-A -F q -P fieldsep_zero",
        "-A -0 -R q",
        "-A -R q -P recordsep_zero",
        "-F b -P fieldsep=x -F a -A",
        "-H -T a=1 -P tableattr=b",
        "-H -P tableattr=b -T a=1",
        "-t -P tuples_only=off",
        "-P tuples_only=off -t",
        "-x -P expanded=off",
        "-P expanded=off -x",
    ],
)
def test_output_flags_apply_in_command_line_order(fresh_db, flags: str):
    same(fresh_db, fresh_db, *flags.split(), "-c", TWO_ROWS)
