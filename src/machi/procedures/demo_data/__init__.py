"""Data of the procedures demo: ``catalog.json`` and one form per file in ``forms/``.

Packages (with ``__init__.py``) so the JSON files are installed with the code.
"""
