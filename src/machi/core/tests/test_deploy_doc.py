"""docs/deploy.md schedules the audit checkpoints with a command that exists."""

from __future__ import annotations

import re
from pathlib import Path

from django.core.management import get_commands

DOC = Path(__file__).resolve().parents[4] / "docs" / "deploy.md"


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    assert f"\n## {title}\n" in text, f"{DOC.name} has no section {title!r}"
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_audit_checkpoints_are_scheduled_hourly_by_cron_or_a_systemd_timer():
    section = _section("Audit checkpoints")
    assert "every hour" in section
    cron = [line for line in section.splitlines() if re.match(r"\s+7 \* \* \* \* ", line)]
    assert len(cron) == 1 and cron[0].rstrip().endswith("-m machi audit-checkpoint")
    assert "OnCalendar=hourly" in section
    assert "ExecStart=/srv/machi/.venv/bin/python -m machi audit-checkpoint" in section
    commands = set(re.findall(r"-m machi ([a-z-]+)", section))
    assert commands == {"audit-checkpoint", "audit-export"}
    known = {name.replace("_", "-") for name in get_commands()}
    assert commands <= known
