"""The catalog fields of a procedure that staff edit: one list for the services and the staff form.

``procedure_create``/``procedure_update`` accept exactly these (plus slug, municipality,
department and publication, which have their own arguments), and the staff page's
``ProcedureForm`` offers exactly these, so a field added to one is never missing from the other
(支払いのタイミング once was).
"""

from __future__ import annotations

PROCEDURE_EDITABLE_FIELDS: tuple[str, ...] = (
    "name",
    "name_kana",
    "name_en",
    "description",
    "description_easy",
    "description_en",
    "audience",
    "legal_basis",
    "assurance_level",
    "fee_yen",
    "fee_per_copy",
    "fee_note",
    "payment_timing",
    "standard_processing_days",
    "annual_case_count",
    "channels",
    "attachments_note",
    "life_events",
    "keywords",
)
