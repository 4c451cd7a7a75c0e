from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "machi.identity"
    label = "identity"
    verbose_name = "Machi identity"
