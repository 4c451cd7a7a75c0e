"""PostgreSQL extended statistics for the queue's scope columns.

A department (and a procedure) belongs to one municipality. Without telling the planner, it
multiplies the selectivities of ``municipality`` and ``department`` and underestimates the
rows of a department's queue by ~40×, then sorts instead of walking the ``case_department``
index in due-date order. Other databases: nothing to do.
"""

from django.db import migrations

CREATE = (
    "CREATE STATISTICS IF NOT EXISTS cases_case_scope_stats (dependencies, ndistinct) "
    "ON municipality_id, department_id, procedure_id FROM cases_case"
)
DROP = "DROP STATISTICS IF EXISTS cases_case_scope_stats"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_queue_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
