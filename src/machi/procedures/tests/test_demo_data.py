"""The demo catalog and forms are data files that load, parse and refer to each other."""

from __future__ import annotations

from machi.procedures.demo_catalog import PROCEDURES, load_catalog
from machi.procedures.demo_forms import FORMS, load_forms
from machi.procedures.formengine import FormDefinition
from machi.procedures.procedure_fields import PROCEDURE_EDITABLE_FIELDS


def test_every_demo_form_parses_and_round_trips():
    assert sorted(FORMS) == [
        "douro_senyou",
        "hoikusho",
        "inu_touroku",
        "jidou_teate",
        "juminhyo",
        "koubunsho",
        "ninshin",
        "risai_shomei",
        "sodai_gomi",
        "tenshutsu",
        "zei_shomei",
    ]
    for key, data in FORMS.items():
        parsed = FormDefinition.from_json(data)
        assert FormDefinition.from_json(parsed.to_json()) == parsed, key


def test_the_catalog_names_only_known_forms_and_fields():
    assert len(PROCEDURES) == 30
    assert len({p["slug"] for p in PROCEDURES}) == 30
    used = {p["form"] for p in PROCEDURES if p.get("form")}
    assert used == set(FORMS)
    allowed = set(PROCEDURE_EDITABLE_FIELDS) | {"slug", "name", "department", "form"}
    for entry in PROCEDURES:
        assert set(entry) <= allowed, entry["slug"]


def test_loading_again_gives_equal_data():
    assert load_forms() == FORMS
    assert load_catalog() == PROCEDURES
