"""Issued PDFs move out of the database (3 of 3): ``storage_name`` required, the BLOB column gone.

Reversible: going back re-adds ``pdf`` (empty) and 0003's reverse fills it from the storage.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("documents", "0003_move_issued_pdfs_to_storage")]

    operations = [
        migrations.RemoveField(model_name="issueddocument", name="pdf"),
        migrations.AlterField(
            model_name="issueddocument",
            name="storage_name",
            field=models.CharField(
                editable=False, max_length=200, unique=True, verbose_name="保存名"
            ),
        ),
    ]
