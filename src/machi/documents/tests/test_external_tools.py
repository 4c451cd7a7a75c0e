"""Independent checks of issued PDFs: poppler's pdfsig (NSS) and ``openssl ts -verify``.

pdfsig exits 0 even when a signature is broken, so its output is parsed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from machi.documents import services
from machi.documents.pki import cert_pem
from machi.documents.tests.conftest import pdf_of

pytestmark = pytest.mark.django_db

needs_pdfsig = pytest.mark.skipif(
    shutil.which("pdfsig") is None, reason="pdfsig (poppler-utils) is not installed"
)
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is missing")


def run(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        list(args), input=data, capture_output=True, check=False, text=data is None
    )


def pdfsig(path: Path, nss_db: Path | None) -> str:
    args = ["pdfsig"]
    if nss_db is not None:
        args += ["-nssdir", f"sql:{nss_db}"]
    result = subprocess.run(  # noqa: S603
        [*args, str(path)], capture_output=True, text=True, check=False
    )
    return result.stdout + result.stderr


def tamper(data: bytes) -> bytes:
    """Flip one byte inside the first signed byte range (in the page content stream)."""
    start = data.index(b"stream\n") + len(b"stream\n") + 20
    assert start < data.index(b"/ByteRange")  # well inside the signed range [0, …]
    changed = bytearray(data)
    changed[start] ^= 0x01
    return bytes(changed)


@pytest.fixture
def issued(application, tmp_path):
    document = services.document_issue(application=application, actor=None, kind="certificate")
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf_of(document))
    return document, path


@needs_pdfsig
def test_pdfsig_says_valid_and_trusted(issued, nss_db):
    _document, path = issued
    output = pdfsig(path, nss_db)
    assert "Signature Type: ETSI.CAdES.detached" in output
    assert "Signer Certificate Common Name: 加古川市長" in output
    assert "Signature is Valid." in output, output
    if nss_db is None:
        pytest.skip("certutil (libnss3-tools) is missing: trust not checked")
    assert "Certificate is Trusted." in output, output


@needs_pdfsig
def test_pdfsig_reports_a_flipped_byte(issued, nss_db, tmp_path):
    _document, path = issued
    broken = tmp_path / "tampered.pdf"
    broken.write_bytes(tamper(path.read_bytes()))
    output = pdfsig(broken, nss_db)
    assert "Signature is Valid." not in output, output
    assert "Digest Mismatch" in output or "Signature is Invalid" in output, output


@needs_openssl
def test_openssl_verifies_the_signature_timestamp(issued, document_pki, tmp_path):
    _document, path = issued
    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    (signature,) = reader.embedded_regular_signatures
    signer_info = signature.signer_info
    tokens = [
        attribute["values"][0]
        for attribute in signer_info["unsigned_attrs"]
        if attribute["type"].native == "signature_time_stamp_token"
    ]
    assert len(tokens) == 1
    # RFC 3161 imprint of a CAdES signature time stamp: H(SignerInfo.signature).
    (tmp_path / "sigvalue.bin").write_bytes(signer_info["signature"].native)
    (tmp_path / "tst.der").write_bytes(tokens[0].dump())
    (tmp_path / "tsa-root.pem").write_bytes(cert_pem(document_pki.tsa_root_certificate()))
    (tmp_path / "tsa.pem").write_bytes(cert_pem(document_pki.tsa().certificate))
    result = run(
        "openssl", "ts", "-verify",
        "-data", str(tmp_path / "sigvalue.bin"),
        "-in", str(tmp_path / "tst.der"), "-token_in",
        "-CAfile", str(tmp_path / "tsa-root.pem"),
        "-untrusted", str(tmp_path / "tsa.pem"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification: OK" in result.stdout

    # A different imprint fails.
    (tmp_path / "other.bin").write_bytes(b"not the signature")
    result = run(
        "openssl", "ts", "-verify",
        "-data", str(tmp_path / "other.bin"),
        "-in", str(tmp_path / "tst.der"), "-token_in",
        "-CAfile", str(tmp_path / "tsa-root.pem"),
    )  # fmt: skip
    assert result.returncode != 0
