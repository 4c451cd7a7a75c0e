from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "machi.cases"
    label = "cases"
    verbose_name = "Machi cases"

    def ready(self) -> None:
        """Hook into procedures: every submission opens a case; 決裁 guards completion."""
        from machi.cases import services
        from machi.procedures.services import (
            register_transition_check,
            register_transition_listener,
        )

        register_transition_listener(services.on_application_transition)
        register_transition_check(services.check_completion_allowed)
