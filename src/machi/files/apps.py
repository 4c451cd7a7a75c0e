from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "machi.files"
    label = "files"
    verbose_name = "Machi files"
