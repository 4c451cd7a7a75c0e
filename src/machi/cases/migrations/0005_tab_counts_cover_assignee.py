# The queue's per-status and open-case indexes carry the assignee (PostgreSQL INCLUDE; ignored
# elsewhere) so the tab counts of "unassigned" stay index-only scans.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0004_prune_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="case",
            name="case_queue",
        ),
        migrations.RemoveIndex(
            model_name="case",
            name="case_status",
        ),
        migrations.RemoveIndex(
            model_name="case",
            name="case_department",
        ),
        migrations.RemoveIndex(
            model_name="case",
            name="case_department_status",
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                fields=["municipality", "is_open", "due_date", "id"],
                include=("assignee",),
                name="case_queue",
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                fields=["municipality", "status", "due_date", "id"],
                include=("assignee",),
                name="case_status",
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                fields=["department", "is_open", "due_date", "id"],
                include=("assignee",),
                name="case_department",
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                fields=["department", "status", "due_date", "id"],
                include=("assignee",),
                name="case_department_status",
            ),
        ),
    ]
