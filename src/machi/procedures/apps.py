from django.apps import AppConfig


class ProceduresConfig(AppConfig):
    name = "machi.procedures"
    label = "procedures"
    verbose_name = "Machi procedures"

    def ready(self) -> None:
        """Procedures' audit labels and own section of the staff case page (the before/after of
        corrections)."""
        from machi.procedures import audit_labels, extensions

        audit_labels.install()

        extensions.application_sections.register(
            "procedures.correction_diff", extensions.correction_diff_section(), order=-10
        )
