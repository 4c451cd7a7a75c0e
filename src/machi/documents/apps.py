from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "machi.documents"
    label = "documents"
    verbose_name = "Machi documents"

    def ready(self) -> None:
        from machi.core.audit_checkpoints import TIMESTAMPER_ID, audit_timestampers
        from machi.documents.audit_timestamps import DocumentsTimeStamper

        audit_timestampers.register(TIMESTAMPER_ID, DocumentsTimeStamper(), replace=True)
