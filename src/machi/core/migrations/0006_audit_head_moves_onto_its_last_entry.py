"""Chain heads may move several entries forward in one UPDATE, onto an entry that exists.

A request's audit entries are now written in one multi-row INSERT followed by one head UPDATE
(``core.services.audit_batch``). The head guard of ``machi.core.audit_guard`` no longer asks for
exactly one step; it asks for a step forward onto the chain's entry with that sequence and link,
which also refuses a head pushed past entries that do not exist.
"""

from django.db import migrations

from machi.core import audit_guard


def install_guards(apps, schema_editor):  # type: ignore[no-untyped-def]
    audit_guard.install(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("core", "0005_prune_indexes")]

    operations = [migrations.RunPython(install_guards, migrations.RunPython.noop)]
