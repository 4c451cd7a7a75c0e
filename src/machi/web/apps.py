from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "machi.web"
    label = "web"
    verbose_name = "Machi web"

    def ready(self) -> None:
        from machi.web import audit_labels

        audit_labels.install()
