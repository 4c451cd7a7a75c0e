"""The built-in RFC 3161 TSA at /tsa/."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import algos, cms, core, tsp

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.documents.tests.urls")]


class Reply(core.Sequence):
    """TimeStampResp with the token optional, as in RFC 3161 (asn1crypto requires it)."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def query(digest: bytes, algorithm: str = "sha256", nonce: int = 12345) -> bytes:
    return tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": tsp.MessageImprint(
                {
                    "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
                    "hashed_message": digest,
                }
            ),
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()


def post(client, body: bytes, content_type: str = "application/timestamp-query"):
    return client.post("/tsa/", data=body, content_type=content_type)


def test_grants_a_time_stamp(client):
    digest = hashlib.sha256(b"document").digest()
    response = post(client, query(digest))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/timestamp-reply"
    reply = tsp.TimeStampResp.load(response.content)
    assert reply["status"]["status"].native == "granted"
    info = reply["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["nonce"].native == 12345


@pytest.mark.parametrize(
    ("body", "fail_info"),
    [
        (b"garbage", "bad_data_format"),
        (query(hashlib.sha1(b"x").digest(), "sha1"), "bad_alg"),  # noqa: S324
        (query(b"short"), "bad_data_format"),
    ],
)
def test_rejects_bad_requests_with_a_reply(client, body, fail_info):
    response = post(client, body)
    assert response.status_code == 200
    reply = Reply.load(response.content)
    assert reply["status"]["status"].native == "rejection"
    assert fail_info in reply["status"]["fail_info"].native


def test_http_errors(client, settings):
    assert client.get("/tsa/").status_code == 405
    assert post(client, b"x", content_type="text/plain").status_code == 415
    assert post(client, b"x" * 20000).status_code == 413
    settings.PRODUCTION = True
    settings.MACHI_TSA_URL = "https://tsa.example.jp/"
    assert post(client, query(hashlib.sha256(b"x").digest())).status_code == 404
