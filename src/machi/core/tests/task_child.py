"""A child process for the kill tests: ``python -m machi.core.tests.task_child COMMAND DIR``.

Runs with the environment's settings (its own ``MACHI_VAR_DIR`` database) and registers the
handler of ``test.kill`` messages, whose effect is a line in ``DIR/effects.log``:

* ``enqueue DIR``: commit one ``test.kill`` message, print its id.
* ``worker DIR [ARGS…]``: ``tasks-worker ARGS…`` with the handler registered.

The handler appends ``start <pid>`` to ``DIR/starts.log``; while ``DIR/block`` exists it writes
``DIR/started`` and sleeps (the test kills it there). Otherwise it applies the effect once per
message (idempotent: a message handled again after a crash finds its effect done).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def handle(payload: dict[str, Any]) -> None:
    folder = Path(payload["dir"])
    with (folder / "starts.log").open("a", encoding="utf-8") as log:
        log.write(f"start {os.getpid()}\n")
    if (folder / "block").exists():
        (folder / "started").write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(120)  # killed here
        raise RuntimeError("the test should have killed this worker")
    done = folder / f"done-{payload['n']}"
    if done.exists():
        return  # the effect happened before a crash: not again
    with (folder / "effects.log").open("a", encoding="utf-8") as log:
        log.write(f"effect {payload['n']}\n")
    done.touch()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "machi.settings")
    from machi.var_dir import prepare_var_dir

    prepare_var_dir()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from machi.core import outbox

    command, folder, *rest = sys.argv[1:]
    outbox.handlers.register("test.kill", handle)
    if command == "enqueue":
        with transaction.atomic():
            message = outbox.enqueue("test.kill", {"dir": folder, "n": 1})
        sys.stdout.write(f"{message.pk}\n")
    elif command == "worker":
        call_command("tasks_worker", *rest)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
