"""Payments: fee rules and cashless payment through providers (sandbox built in)."""
