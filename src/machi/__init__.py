"""Machi: a shared smart-municipality platform (スマート自治体) for a prefecture and its municipalities."""

__version__ = "0.1.0"
