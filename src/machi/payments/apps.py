from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "machi.payments"
    label = "payments"
    verbose_name = "Machi payments"

    def ready(self) -> None:
        """Register the providers, the refund outbox handler and the procedure hooks."""
        from machi.core import outbox
        from machi.payments import services
        from machi.payments.providers import register_provider
        from machi.payments.providers.payjp import PayjpProvider
        from machi.payments.providers.sandbox import SandboxProvider
        from machi.procedures import services as procedure_services

        register_provider(SandboxProvider())
        register_provider(PayjpProvider())
        outbox.handlers.register(services.REFUND_OUTBOX_KIND, services.deliver_refund)
        procedure_services.register_submission_check(services.check_submission)
        procedure_services.register_transition_check(services.check_transition)
        procedure_services.register_transition_listener(services.on_transition)
