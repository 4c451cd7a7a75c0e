from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "machi.documents"
    label = "documents"
    verbose_name = "Machi documents"
