from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "machi.payments"
    label = "payments"
    verbose_name = "Machi payments"
