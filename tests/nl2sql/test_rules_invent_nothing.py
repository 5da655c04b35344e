"""Repairs that would answer about another entity, or join on what the schema does not
declare, do not fire: on a schema that declares its keys (a veterinary clinic, with foreign
keys named after roles), the query the model wrote stays as it failed. Seen with the real
model: "which vets are in Leeds?" answered with owners, vets' names with clinics' names, and
a vet's rabies vaccinations counted through every appointment of the pet."""

from __future__ import annotations

import pytest
from conftest import database_fixture

from nl2sql_shell.nl2sql.rules import apply_rules
from nl2sql_shell.schema.introspect import read_schema

SCHEMA = """
CREATE TABLE clinics (clinic_id int PRIMARY KEY, name text, city text);
CREATE TABLE owners (owner_id int PRIMARY KEY, full_name text, email text, city text);
CREATE TABLE vets (vet_id int PRIMARY KEY, full_name text, clinic_id int REFERENCES clinics);
CREATE TABLE pets (pet_id int PRIMARY KEY, name text, owner_id int REFERENCES owners);
CREATE TABLE appointments (appointment_id int PRIMARY KEY, pet_id int REFERENCES pets, vet_id int REFERENCES vets);
CREATE TABLE vaccinations (vaccination_id int PRIMARY KEY, pet_id int REFERENCES pets, administered_by int REFERENCES vets(vet_id), vaccine text);
"""

conn = database_fixture("rules_invent_nothing", SCHEMA)


@pytest.mark.parametrize(
    "written",
    [
        "SELECT full_name FROM vets WHERE city = 'Leeds'",  # owners have city and full_name: another entity
        "SELECT email FROM vets",  # owners have email: joined on full_name, which no key says
        "SELECT v.name FROM vets v JOIN clinics c ON v.clinic_id = c.clinic_id WHERE c.city = 'Leeds'",  # vets' own full_name may be meant
        "SELECT v.full_name, count(*) FROM vaccinations x JOIN vets v ON x.vet_id = v.vet_id GROUP BY v.full_name",  # administered_by links them
    ],
)
def test_a_repair_that_would_change_what_is_asked_about_does_not_fire(conn, written: str) -> None:
    fixed = apply_rules(written, read_schema(conn), failing=True)
    assert (fixed.sql, fixed.changes) == (written, [])
