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
        self._forget_cached_choices_on_change()

    def _forget_cached_choices_on_change(self) -> None:
        """The queue's cached filter choices follow the rows they show (selectors.choices)."""
        from django.db.models.signals import post_delete, post_save

        from machi.cases.selectors import choices

        for model in ("core.Department", "core.Membership", "procedures.Procedure"):
            for signal in (post_save, post_delete):
                signal.connect(
                    choices.forget_for_municipality_row,
                    sender=model,
                    dispatch_uid=f"cases-choices-{model}-{signal is post_save}",
                )
        for signal in (post_save, post_delete):
            signal.connect(
                choices.forget_for_municipality,
                sender="core.Municipality",
                dispatch_uid=f"cases-choices-municipality-{signal is post_save}",
            )
        post_save.connect(
            choices.forget_for_user, sender="core.User", dispatch_uid="cases-choices-user"
        )
