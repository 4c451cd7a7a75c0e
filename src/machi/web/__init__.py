"""Web: the resident portal (``/``) and the staff console (``/staff/``). The top layer."""
