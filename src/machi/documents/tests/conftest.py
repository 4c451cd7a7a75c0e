"""Shared fixtures: one test document PKI per session (RSA is slow) and applications to issue for."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from machi.core.models import Role
from machi.core.tests.factories import staff_member
from machi.documents.pki import DocumentPki, cert_pem
from machi.documents.services import document_read
from machi.procedures.models import (
    Application,
    ApplicationStatus,
    Channel,
    FormVersion,
    Procedure,
)

DEFINITION = {
    "schema": 1,
    "steps": [
        {
            "key": "applicant",
            "title": {"ja": "申請者"},
            "fields": [
                {"key": "name", "type": "name", "label": {"ja": "氏名"}, "required": True},
                {"key": "address", "type": "address", "label": {"ja": "住所"}, "required": True},
            ],
        },
        {
            "key": "request",
            "title": {"ja": "請求の内容"},
            "fields": [
                {"key": "purpose", "type": "text", "label": {"ja": "使用目的"}, "required": True},
                {
                    "key": "copies",
                    "type": "choice",
                    "label": {"ja": "通数"},
                    "required": True,
                    "options": [
                        {"value": "1", "label": {"ja": "1通"}},
                        {"value": "2", "label": {"ja": "2通"}},
                    ],
                },
            ],
        },
    ],
}
CLEANED = {
    "applicant": {
        "name": {
            "family": "加古川",
            "given": "花子",
            "family_kana": "カコガワ",
            "given_kana": "ハナコ",
        },
        "address": {
            "postal_code": "6750031",
            "prefecture": "兵庫県",
            "city": "加古川市",
            "town": "加古川町北在家",
            "street": "2000",
            "building": "",
        },
    },
    "request": {"purpose": "就職のため", "copies": "1"},
}


@pytest.fixture(scope="session")
def document_pki(tmp_path_factory: pytest.TempPathFactory) -> DocumentPki:
    pki = DocumentPki(tmp_path_factory.mktemp("documents-pki"), auto_create=True)
    pki.init()
    return pki


def local_documents_storage(root: Path) -> dict[str, object]:
    """The embedded default's ``documents`` storage, in ``root``."""
    return {
        "BACKEND": "machi.files.storage.PrivateStorage",
        "OPTIONS": {
            "location": root,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }


@pytest.fixture
def documents_root(tmp_path: Path) -> Path:
    """Where this test's issued PDFs are stored (see ``documents_settings``)."""
    return tmp_path / "documents"


@pytest.fixture(autouse=True)
def documents_settings(settings, document_pki: DocumentPki, tmp_path: Path) -> DocumentPki:
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": local_documents_storage(tmp_path / "documents"),
    }
    settings.MACHI_DOCUMENTS_PKI_DIR = document_pki.directory
    settings.MACHI_TSA_URL = ""
    settings.MACHI_TSA_TIMEOUT_SECONDS = 3
    settings.MACHI_DOCUMENTS_TRUST_ROOTS = []
    settings.MACHI_PUBLIC_BASE_URL = "http://testserver"
    settings.MACHI_DOCUMENTS_FONT = ""
    settings.PRODUCTION = False
    return document_pki


def pdf_of(document) -> bytes:
    """The stored bytes of an issued document, checked like every read."""
    return document_read(document=document)


@pytest.fixture
def procedure(kakogawa) -> Procedure:
    return Procedure.objects.create(
        municipality=kakogawa, slug="juminhyo", name="住民票の写しの交付請求", is_published=True
    )


@pytest.fixture
def make_application(procedure) -> Callable[..., Application]:
    form_version = FormVersion.objects.create(
        procedure=procedure,
        number=1,
        definition=DEFINITION,
        definition_sha256=hashlib.sha256(json.dumps(DEFINITION).encode()).hexdigest(),
        published_at=timezone.now(),
    )
    counter = iter(range(1, 10_000))

    def make(status: str = ApplicationStatus.IN_REVIEW, **extra) -> Application:
        values = {
            "municipality": procedure.municipality,
            "procedure": procedure,
            "form_version": form_version,
            "status": status,
            "channel": Channel.ONLINE,
            "answers": CLEANED,
            "cleaned": CLEANED,
            "receipt_number": f"2026-{next(counter):06d}",
            "submitted_at": timezone.now(),
            "fee_yen": 300,
        }
        values.update(extra)
        return Application.objects.create(**values)

    return make


@pytest.fixture
def application(make_application) -> Application:
    return make_application()


@pytest.fixture
def kakogawa_approver(kakogawa):
    return staff_member("kakogawa-approver", kakogawa, Role.APPROVER)


@pytest.fixture
def kobe_approver(kobe):
    return staff_member("kobe-approver", kobe, Role.APPROVER)


def _handler(answer: Callable[[bytes], bytes]) -> type[http.server.BaseHTTPRequestHandler]:
    class TsaHandler(http.server.BaseHTTPRequestHandler):
        """RFC 3161 over HTTP on 127.0.0.1."""

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_response(415)
                self.end_headers()
                return
            reply = answer(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args) -> None:
            return

    return TsaHandler


@pytest.fixture
def serve_tsa(documents_settings) -> Iterator[Callable[[Callable[[bytes], bytes]], str]]:
    """Start a TSA on a free loopback port answering with ``answer(query)``; returns its URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(answer: Callable[[bytes], bytes]) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(answer))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/tsa/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_tsa(serve_tsa) -> str:
    """Machi's TSA code (the same as the /tsa/ view) behind http.server."""
    from machi.documents import tsa

    return serve_tsa(tsa.respond)


@pytest.fixture(scope="session")
def nss_db(document_pki: DocumentPki, tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """An NSS database trusting the test organisation CA (for pdfsig), or None without certutil."""
    if shutil.which("certutil") is None:
        return None
    directory = tmp_path_factory.mktemp("nssdb")
    root = directory / "org-ca.pem"
    root.write_bytes(cert_pem(document_pki.org_ca_certificate()))
    database = f"sql:{directory}"
    create = ["certutil", "-N", "-d", database, "--empty-password"]
    trust = [
        "certutil",
        "-A",
        "-d",
        database,
        "-n",
        "machi-org-ca",
        "-t",
        "CT,C,C",
        "-i",
        str(root),
    ]
    for command in (create, trust):
        subprocess.run(command, check=True)  # noqa: S603
    return directory
