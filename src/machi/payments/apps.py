from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "machi.payments"
    label = "payments"
    verbose_name = "Machi payments"

    def ready(self) -> None:
        """Register the audit labels, the providers, the refund outbox handler, the procedure
        hooks, the page sections and the case link (each on its registry)."""
        from machi.core import outbox
        from machi.payments import audit_labels, services
        from machi.payments.providers import register_provider
        from machi.payments.providers.payjp import PayjpProvider
        from machi.payments.providers.sandbox import SandboxProvider
        from machi.payments.sections import register_sections
        from machi.procedures.extensions import application_hooks

        audit_labels.install()
        register_sections()
        register_provider(SandboxProvider())
        register_provider(PayjpProvider())
        outbox.handlers.register(services.REFUND_OUTBOX_KIND, services.deliver_refund)
        # Pay before submission / before issuance, refunds after a withdrawal or a rejection.
        application_hooks.register("payments", services.PaymentHooks(), order=20)
