from django.apps import AppConfig


class ProceduresConfig(AppConfig):
    name = "machi.procedures"
    label = "procedures"
    verbose_name = "Machi procedures"

    def ready(self) -> None:
        """Procedures' own section of the staff case page: the before/after of corrections."""
        from machi.procedures import extensions

        extensions.application_sections.register(
            "procedures.correction_diff", extensions.correction_diff_section(), order=-10
        )
