"""Keyed audit chain, checkpoints, and append-only guards for heads and checkpoints.

Existing entries were linked with plain SHA-256. Each chain is verified that way first (the
migration stops, changing nothing, if one is broken: run the previous version's
``verify-audit`` and investigate), then re-linked in order with the HMAC key configured now
(``MACHI_AUDIT_KEY``), and its head moved to the new last link. From here on every link is
keyed; there is no unkeyed entry left to downgrade to. Then the triggers of
``machi.core.audit_guard`` are installed (SQLite rebuilt ``core_auditentry`` for the new column,
dropping its UPDATE trigger from 0002; ``install`` re-creates it).
"""

from django.db import migrations, models

from machi.core import audit_guard
from machi.core.audit_chain import GENESIS_HASH, current_key, entry_digest, entry_fields, entry_link


def relink(apps, schema_editor):  # type: ignore[no-untyped-def]
    AuditEntry = apps.get_model("core", "AuditEntry")
    AuditChainHead = apps.get_model("core", "AuditChainHead")
    if not AuditEntry.objects.exists():
        return
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE core_auditentry DISABLE TRIGGER core_auditentry_append_only"
            )
        elif connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER IF EXISTS core_auditentry_no_update")
    key_id, key = current_key()
    chains = sorted(set(AuditEntry.objects.values_list("chain", flat=True)))
    for chain in chains:
        expected_sequence, old_prev, new_prev = 1, GENESIS_HASH, GENESIS_HASH
        for entry in AuditEntry.objects.filter(chain=chain).order_by("sequence"):
            fields = entry_fields(entry)
            if (
                entry.sequence != expected_sequence
                or entry.prev_hash != old_prev
                or entry_digest(**fields) != entry.entry_hash
            ):
                raise RuntimeError(
                    f"audit chain {chain} is broken at sequence {expected_sequence}: "
                    "not re-linked; investigate with the previous version's verify-audit"
                )
            old_prev = entry.entry_hash
            fields["prev_hash"] = new_prev
            new_link = entry_link(key=key, key_id=key_id, **fields)
            AuditEntry.objects.filter(pk=entry.pk).update(
                prev_hash=new_prev, entry_hash=new_link, key_id=key_id
            )
            new_prev = new_link
            expected_sequence += 1
        head = AuditChainHead.objects.filter(chain=chain).first()
        if (
            head is None
            or head.last_sequence != expected_sequence - 1
            or head.last_hash != old_prev
        ):
            raise RuntimeError(f"audit chain {chain}: its head does not match its last entry")
        AuditChainHead.objects.filter(chain=chain).update(last_hash=new_prev)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditentry ENABLE TRIGGER core_auditentry_append_only")


def install_guards(apps, schema_editor):  # type: ignore[no-untyped-def]
    audit_guard.install(schema_editor)


def uninstall_guards(apps, schema_editor):  # type: ignore[no-untyped-def]
    audit_guard.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_outbox"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveBigIntegerField(unique=True)),
                ("created_at", models.DateTimeField()),
                ("previous_digest", models.CharField(max_length=64)),
                (
                    "heads",
                    models.JSONField(help_text="[[chain, sequence, link], …] sorted by chain."),
                ),
                ("digest", models.CharField(max_length=64, unique=True)),
                (
                    "token",
                    models.BinaryField(help_text="DER RFC 3161 TimeStampToken over the digest."),
                ),
                ("tsa", models.CharField(max_length=200)),
                ("timestamped_at", models.DateTimeField()),
            ],
            options={
                "verbose_name": "監査ログのチェックポイント",
                "verbose_name_plural": "監査ログのチェックポイント",
                "ordering": ["number"],
            },
        ),
        migrations.AddField(
            model_name="auditentry",
            name="key_id",
            field=models.CharField(
                default="", help_text="Which chain key linked it.", max_length=16
            ),
        ),
        migrations.RunPython(relink, migrations.RunPython.noop),
        migrations.RunPython(install_guards, uninstall_guards),
    ]
