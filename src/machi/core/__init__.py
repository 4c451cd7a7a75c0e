"""Core: municipalities (tenants), staff and roles, the audit log, Japanese-data validators.

The lowest layer: it imports no other Machi app.
"""
