from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "machi.files"
    label = "files"
    verbose_name = "Machi files"

    def ready(self) -> None:
        from machi.files import audit_labels

        audit_labels.install()
