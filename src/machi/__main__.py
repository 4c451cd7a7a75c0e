"""``python -m machi <command>``: Django's management commands with Machi's settings.

Examples: ``python -m machi migrate``, ``python -m machi verify-audit``, ``python -m machi load-demo``.
Dashed names are accepted for Machi's own commands (``verify-audit`` = ``verify_audit``).
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "machi.settings")
    from machi.var_dir import prepare_var_dir

    prepare_var_dir()  # owner-only var/ before the settings read it (they write nothing)
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    argv[0] = "python -m machi"
    if len(argv) > 1 and "-" in argv[1] and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
