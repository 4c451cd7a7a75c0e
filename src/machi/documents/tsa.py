"""RFC 3161 time stamps: Machi's built-in TSA and the client used when signing.

``MACHI_TSA_URL`` empty: documents are time-stamped in-process by the built-in TSA (pyHanko's
``DummyTimeStamper`` with the test TSA certificate of ``pki.DocumentPki``), which ``views.tsa``
also serves over HTTP at ``/tsa/``. Otherwise Machi asks the TSA at that URL over HTTP
(``application/timestamp-query`` → ``application/timestamp-reply``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Final

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from pyhanko.sign.timestamps import (
    DummyTimeStamper,
    HTTPTimeStamper,
    TimeStamper,
    TimestampRequestError,
)
from pyhanko_certvalidator.registry import SimpleCertificateStore

from machi.documents.pki import DocumentPki

QUERY_CONTENT_TYPE: Final = "application/timestamp-query"
REPLY_CONTENT_TYPE: Final = "application/timestamp-reply"
MAX_QUERY_BYTES: Final = 16 * 1024
DIGEST_SIZES: Final = {"sha256": 32, "sha384": 48, "sha512": 64}

_cache_lock = threading.Lock()


class MachiHTTPTimeStamper(HTTPTimeStamper):
    """pyHanko's HTTP client, with every bad reply reported as ``TimestampRequestError``.

    (asn1crypto cannot even parse an RFC 3161 *rejection*, which has no token: that surfaces
    as a ValueError, which must not be mistaken for a signing problem.)
    """

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
        try:
            return await super().async_timestamp(message_digest, md_algorithm)
        except TimestampRequestError:
            raise
        except Exception as exc:
            raise TimestampRequestError(f"unusable reply from the TSA: {exc}") from exc


_local_cache: dict[tuple[str, int], DummyTimeStamper] = {}
_http_cache: dict[tuple[str, float], MachiHTTPTimeStamper] = {}


def asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """The same certificate as an ``asn1crypto`` object (what pyHanko works with)."""
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def asn1_private_key(key: rsa.RSAPrivateKey) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def local_timestamper(pki: DocumentPki | None = None) -> DummyTimeStamper:
    """The built-in TSA (one instance per TSA certificate file, reused across requests)."""
    pki = pki or DocumentPki.from_settings()
    pki.ensure()
    path: Path = pki.tsa_path
    cache_key = (str(path.resolve()), path.stat().st_mtime_ns)
    with _cache_lock:
        cached = _local_cache.get(cache_key)
    if cached is not None:
        return cached
    credential = pki.tsa()
    stamper = DummyTimeStamper(
        tsa_cert=asn1_certificate(credential.certificate),
        tsa_key=asn1_private_key(credential.key),
        certs_to_embed=SimpleCertificateStore.from_certs(
            [asn1_certificate(c) for c in credential.chain]
        ),
    )
    with _cache_lock:
        _local_cache[cache_key] = stamper
    return stamper


def timestamper() -> TimeStamper:
    """The TSA client for signing, per the current settings (read on every call)."""
    url = str(settings.MACHI_TSA_URL or "")
    if not url:
        return local_timestamper()
    timeout = float(settings.MACHI_TSA_TIMEOUT_SECONDS)
    cache_key = (url, timeout)
    with _cache_lock:
        stamper = _http_cache.get(cache_key)
        if stamper is None:
            # Reused: pyHanko caches one "dummy" token per client for size estimation.
            stamper = MachiHTTPTimeStamper(url, timeout=timeout)
            _http_cache[cache_key] = stamper
    return stamper


def tsa_description() -> str:
    """``built-in`` or the TSA's URL (for reports and the benchmark)."""
    return str(settings.MACHI_TSA_URL or "") or "built-in"


def _rejection(fail_info: str, text: str) -> bytes:
    status: dict[str, Any] = {
        "status": "rejection",
        "status_string": [text],
        "fail_info": tsp.PKIFailureInfo({fail_info}),
    }
    # TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }: asn1crypto
    # insists on the token when encoding, so the one-field SEQUENCE is written by hand.
    inner = bytes(tsp.PKIStatusInfo(status).dump())
    return b"\x30" + _der_length(len(inner)) + inner


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def respond(query: bytes) -> bytes:
    """Answer one DER ``TimeStampReq`` with a DER ``TimeStampResp`` (RFC 3161 §2.4).

    Malformed or unsupported requests get a ``rejection`` with the matching failInfo, never
    an exception.
    """
    if len(query) > MAX_QUERY_BYTES:
        return _rejection("bad_request", "request too large")
    try:
        request = tsp.TimeStampReq.load(query, strict=True)
        request.native  # noqa: B018 (parses every field now, so garbage fails here)
        version = request["version"].native
        algorithm = request["message_imprint"]["hash_algorithm"]["algorithm"].native
        digest = request["message_imprint"]["hashed_message"].native
        extensions = request["extensions"].native
    except Exception:  # asn1crypto raises ValueError, TypeError, KeyError… on garbage
        return _rejection("bad_data_format", "not a DER TimeStampReq")
    if version != "v1":
        return _rejection("bad_request", "unsupported version")
    if algorithm not in DIGEST_SIZES:
        return _rejection("bad_alg", "use SHA-256, SHA-384 or SHA-512")
    if not isinstance(digest, bytes) or len(digest) != DIGEST_SIZES[algorithm]:
        return _rejection("bad_data_format", "digest length does not match the algorithm")
    if extensions:
        return _rejection("unaccepted_extension", "extensions are not supported")
    response: tsp.TimeStampResp = local_timestamper().request_tsa_response(request)
    return bytes(response.dump())
