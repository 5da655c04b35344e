"""\\crosstabview as psql 15 pivots and prints a result, compared byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from psqlcompare import PSQL, ours, theirs

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

SCRIPT = """create temp table s(region text, q text, amount int, sortq int);
insert into s values ('north','Q1',10,1),('north','Q2',20,2),('south','Q2',5,2),('south','Q1',7,1),('east','Q3',null,3),('west','Q1',1,1);
select region, q, amount from s \\crosstabview
select region, q, amount, sortq from s \\crosstabview region q amount sortq
select q, region, amount from s order by q desc \\crosstabview
select region, q from s \\crosstabview
select region, q, amount, sortq from s \\crosstabview
select region, 'x' as q, amount from s \\crosstabview
select region, q, amount from s \\crosstabview nosuch
select region, q, amount from s \\crosstabview region region
\\crosstabview 5
select 1 as a, 2 as a, 3 as b \\crosstabview a b
select * from (values ('a', null, 1), (null, 'x', 2), ('a', 'y', null), (null, null, 4)) v("Row", "Col", val) \\crosstabview
\\crosstabview "Row" "Col" 3
select g % 3 as r, g % 2 as c, g as v from generate_series(1, 6) g \\crosstabview r c v 2
select region, q, amount::text as amt from s \\crosstabview
select * from (values ('a','z',1,1),('a','x',2,1),('a','y',3,1)) v(r,c,val,s) \\crosstabview r c val s
select * from (values ('a','p',1,'2'),('a','q',2,'12abc'),('a','r',3,'1'),('a','s',4,'-3')) v(r,c,val,s) \\crosstabview r c val s
select * from (values ('a','p',1,2.5),('a','q',2,1.5),('a','r',3,3),('a',null,4,0)) v(r,c,val,s) \\crosstabview r c val s
select 1000 as v, 2000 as h, 1234567.5 as d \\crosstabview
\\x
select region, q, amount from s \\crosstabview
"""


# psql never applies numericlocale to a crosstab's cells; an empty tableattr still adds its space
@pytest.mark.parametrize("flags", [[], ["-P", "null=(nil)", "-P", "border=2"], ["-A"], ["-P", "numericlocale=on"], ["-H", "-T", ""]])
def test_crosstabview_as_psql(fresh_db, tmp_path: Path, flags: list[str]):
    (tmp_path / "c.sql").write_text(SCRIPT)
    result = ours(fresh_db, *flags, "-f", "c.sql", cwd=tmp_path)
    assert result == theirs(fresh_db, *flags, "-f", "c.sql", cwd=tmp_path)
    if not flags:
        assert b" region | Q1 | Q2 | Q3 \n--------+----+----+----\n north  | 10 | 20 |   \n" in result[1]
        assert b'multiple data values for row "north", column "x"' in result[2]
