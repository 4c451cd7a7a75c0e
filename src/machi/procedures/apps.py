from django.apps import AppConfig


class ProceduresConfig(AppConfig):
    name = "machi.procedures"
    label = "procedures"
    verbose_name = "Machi procedures"
