"""Issued PDFs move out of the database (1 of 3): a nullable ``storage_name`` beside ``pdf``.

``pdf`` becomes nullable too, so that going back (0004 reversed) can re-add the column empty
before 0003's reverse fills it from the storage.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="issueddocument",
            name="storage_name",
            field=models.CharField(
                editable=False, max_length=200, null=True, unique=True, verbose_name="保存名"
            ),
        ),
        migrations.AlterField(
            model_name="issueddocument",
            name="pdf",
            field=models.BinaryField(editable=False, null=True),
        ),
    ]
