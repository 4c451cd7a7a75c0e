from django.apps import AppConfig
from django.conf import settings


class IdentityConfig(AppConfig):
    name = "machi.identity"
    label = "identity"
    verbose_name = "Machi identity"

    def ready(self) -> None:
        from machi.identity import audit_labels
        from machi.identity.signing_clients import register_builtin_clients, signing_clients

        audit_labels.install()
        register_builtin_clients()
        if not settings.PRODUCTION:
            # The demo card signs with the test PKI's keys: demo and test installations only.
            from machi.testing_pki.signing import DemoCardClient

            signing_clients.register(
                DemoCardClient.id, DemoCardClient(), order=DemoCardClient.order
            )
