from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "machi.cases"
    label = "cases"
    verbose_name = "Machi cases"

    def ready(self) -> None:
        """Hook into procedures: every submission opens its case (same transaction); 決裁 guards
        completion. See :mod:`machi.cases.hooks`."""
        from machi.cases import audit_labels
        from machi.cases.hooks import CaseHooks
        from machi.procedures.extensions import application_hooks

        audit_labels.install()
        application_hooks.register("cases", CaseHooks())
