from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "machi.cases"
    label = "cases"
    verbose_name = "Machi cases"
