"""Demo forms (schema 1), one ``<form key>.json`` per form of ``../catalog.json``."""
