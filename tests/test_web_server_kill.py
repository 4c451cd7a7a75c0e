"""Nothing a resident submitted is lost when the web server is killed mid-run.

gunicorn serves a file SQLite database; clients post complete submissions concurrently through
the JSON API; the whole server (master and workers) gets SIGKILL while requests are in flight,
then starts again. Every submission that was answered 201 exists with its 受付番号, its case and
its outbox message; no application is half-written (a draft, a missing number, case or
message); the audit chain still verifies; the restarted server accepts submissions.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from machi.core.tests.child_processes import (
    child_env,
    fresh_var_dir,
    kill_group,
    query,
    run_machi,
    start,
    wait_for,
)

CLIENTS = 8
KILL_AFTER_SUCCESSES = 24
EMAIL = "kill-test@example.jp"


def _payload() -> dict[str, Any]:
    """A complete 粗大ごみ収集申込 of the demo's 加古川市 (anonymous clients may submit it)."""
    return {
        "municipality_code": "282103",
        "procedure": "sodai-gomi",
        "answers": {
            "applicant": {
                "name": {
                    "family": "加古川",
                    "given": "花子",
                    "family_kana": "カコガワ",
                    "given_kana": "ハナコ",
                },
                "address": {
                    "postal_code": "675-0031",
                    "prefecture": "兵庫県",
                    "city": "加古川市",
                    "town": "加古川町北在家",
                    "street": "2000",
                    "building": "",
                },
                "phone": "079-421-2000",
                "email": EMAIL,
            },
            "items": {
                "items": [{"kind": "sofa", "count": 1}, {"kind": "bicycle", "count": 2}],
                "date": (dt.date.today() + dt.timedelta(days=14)).isoformat(),
            },
        },
        "contact_email": EMAIL,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(port: int, body: bytes) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/v1/applications",
            body=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _gunicorn(env: dict[str, str], port: int, log: Path) -> Any:
    server = start(
        env,
        "-m",
        "gunicorn",
        "machi.wsgi:application",
        "--workers",
        "2",
        "--threads",
        "4",
        "--bind",
        f"127.0.0.1:{port}",
        log=log,
    )
    wait_for(lambda: _healthy(port), timeout=90, what="gunicorn to answer /healthz")
    return server


def test_a_killed_web_server_loses_no_answered_submission(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    var_dir = fresh_var_dir(tmp_path_factory, tmp_path / "var")
    port = _free_port()
    env = child_env(
        var_dir,
        MACHI_APPLICATION_RATE_LIMIT="100000/m",
        MACHI_ALLOWED_HOSTS="127.0.0.1,localhost",
        MACHI_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
    )
    body = json.dumps(_payload()).encode()
    answered: list[dict[str, Any]] = []
    refused: list[tuple[int, dict[str, Any]]] = []
    lost: list[str] = []  # requests that got no answer (the kill)
    stop = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        while not stop.is_set():
            try:
                status, data = _post(port, body)
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    lost.append(type(exc).__name__)
                time.sleep(0.05)
                continue
            with lock:
                (answered.append(data) if status == 201 else refused.append((status, data)))

    server = _gunicorn(env, port, tmp_path / "gunicorn-1.log")
    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: len(answered) >= KILL_AFTER_SUCCESSES, timeout=120, what="submissions")
        kill_group(server, signal.SIGKILL)  # master and workers, mid-request
        with lock:
            answered_before_kill = list(answered)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=40)
        assert refused == []
        assert lost, "no request was in flight when the server was killed"
        server = _gunicorn(env, port, tmp_path / "gunicorn-2.log")
        status, after_restart = _post(port, body)
        assert status == 201, after_restart
    finally:
        stop.set()
        kill_group(server, signal.SIGTERM)

    assert answered == answered_before_kill  # nothing was answered after the kill
    # Every answered submission is there, with its number, its case and its message.
    for data in [*answered, after_restart]:
        application_id = uuid.UUID(data["id"])
        assert data["status"] == "submitted" and data["receipt_number"]
        assert query(
            var_dir,
            "SELECT status, receipt_number FROM procedures_application WHERE id = ?",
            application_id.hex,
        ) == [("submitted", data["receipt_number"])]
        assert query(
            var_dir, "SELECT count(*) FROM cases_case WHERE application_id = ?", application_id.hex
        ) == [(1,)]
        assert query(
            var_dir,
            "SELECT count(*) FROM core_outboxmessage WHERE kind = 'notification' "
            "AND json_extract(payload, '$.reference') = ?",
            str(application_id),
        ) == [(1,)]
    # No half-written submission: every application the clients sent is complete.
    rows = query(
        var_dir,
        "SELECT a.id, a.status, a.receipt_number, "
        " (SELECT count(*) FROM cases_case c WHERE c.application_id = a.id), "
        " (SELECT count(*) FROM core_outboxmessage m WHERE m.kind = 'notification' "
        "   AND json_extract(m.payload, '$.reference') = "
        "   lower(substr(a.id, 1, 8) || '-' || substr(a.id, 9, 4) || '-' || substr(a.id, 13, 4)"
        "   || '-' || substr(a.id, 17, 4) || '-' || substr(a.id, 21))) "
        "FROM procedures_application a WHERE a.contact_email = ?",
        EMAIL,
    )
    incomplete = [row for row in rows if row[1:] != ("submitted", row[2], 1, 1) or not row[2]]
    assert incomplete == []
    # Committed but unanswered (killed between commit and response) is possible, never more
    # than the requests that were cut off.
    assert len(answered) + 1 <= len(rows) <= len(answered) + 1 + len(lost)
    numbers = [row[2] for row in rows]
    assert len(set(numbers)) == len(numbers)
    run_machi(env, "verify-audit")
