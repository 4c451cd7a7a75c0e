from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "machi.core"
    label = "core"
    verbose_name = "Machi core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from machi.core import auth_cache, notifications, outbox

        notifications.install_defaults()
        outbox.handlers.register(outbox.PROBE_KIND, outbox.probe_handler)
        auth_cache.connect_signals()
