from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "machi.documents"
    label = "documents"
    verbose_name = "Machi documents"

    def ready(self) -> None:
        """Contribute the applicant's documents to procedures' application page."""
        from machi.documents.sections import register_sections

        register_sections()
