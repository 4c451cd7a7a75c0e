"""The production-like gunicorn server under test, HTTP requests and the staff sign-in."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

from common import HOST, OUT_DIR, PROJECT_DIR, BenchError, free_port, log

# --- The server --------------------------------------------------------------------------------


class Server:
    """gunicorn serving machi.wsgi on loopback; always stopped by ``stop``."""

    def __init__(self, env: dict[str, str], args: argparse.Namespace) -> None:
        self.env = env
        self.args = args
        self.port = free_port()
        self.log_path = OUT_DIR / "gunicorn.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "machi.wsgi:application",
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(self.args.workers),
            "--worker-class",
            self.args.worker_class,
            "--threads",
            str(self.args.worker_threads),
            "--log-level",
            "warning",
            "--error-logfile",
            str(self.log_path),
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
        ]
        if Path("/dev/shm").is_dir():
            cmd += ["--worker-tmp-dir", "/dev/shm"]
        log(f"starting gunicorn on {self.base_url} ({self.describe()})")
        self.process = subprocess.Popen(
            cmd,
            env=self.env,
            cwd=PROJECT_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn exited early:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                status, _headers, _body = http_request(self.port, "GET", "/healthz", timeout=2)
                if status == 200:
                    return
            time.sleep(0.25)
        raise BenchError(f"gunicorn did not answer /healthz within 60 s:\n{self.log_tail()}")

    def settle(self, *, linger_s: float, timeout_s: float = 60) -> tuple[int, float]:
        """Wait until the requests left by a finished wrk run are served (probes, seconds).

        A ``/healthz`` probe queues behind every connection still in the backlog, so a fast
        answer means they have all been taken by a worker; the ones still in a worker finish
        within about one request's time, ``linger_s``.
        """
        started = time.monotonic()
        probes = 0
        while time.monotonic() - started < timeout_s:
            begin = time.monotonic()
            status, _headers, _body = http_request(self.port, "GET", "/healthz", timeout=30)
            probes += 1
            if status != 200:
                raise BenchError(f"/healthz answered {status} while settling")
            if time.monotonic() - begin < 0.05:
                time.sleep(linger_s)
                return probes, time.monotonic() - started
        raise BenchError(f"gunicorn did not settle within {timeout_s:g} s")

    def describe(self) -> str:
        threads = (
            f" × {self.args.worker_threads} threads" if self.args.worker_class == "gthread" else ""
        )
        return f"{self.args.workers} {self.args.worker_class} workers{threads}"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        log("stopping gunicorn")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # our own session: master + workers
            process.wait(timeout=5)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return "(no gunicorn log)"


def http_request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def response_cookies(headers: http.client.HTTPMessage) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for value in headers.get_all("Set-Cookie") or []:
        parsed = SimpleCookie()
        parsed.load(value)
        cookies.update({name: morsel.value for name, morsel in parsed.items()})
    return cookies


def sign_in(port: int, username: str, password: str) -> str:
    """Sign in through the staff login form (password + TOTP); returns the session key."""
    import dataset

    status, headers, body = http_request(port, "GET", "/staff/login/")
    if status != 200:
        raise BenchError(f"GET /staff/login/ answered {status}")
    csrf_cookie = response_cookies(headers).get("csrftoken")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if not csrf_cookie or not match:
        raise BenchError("no CSRF cookie/token on the staff login page")
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": match.group(1).decode(),
            "username": username,
            "password": password,
            "otp_token": dataset.current_totp(username),
            "next": "",
        }
    ).encode()
    status, headers, body = http_request(
        port,
        "POST",
        "/staff/login/",
        headers={
            "Cookie": f"csrftoken={csrf_cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body=form,
    )
    from django.conf import settings

    session = response_cookies(headers).get(settings.SESSION_COOKIE_NAME)
    if status != 302 or not session:
        raise BenchError(f"staff sign-in failed: {status} {body[:300]!r}")
    return session
