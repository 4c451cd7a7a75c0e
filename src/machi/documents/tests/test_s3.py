"""The documents storage on S3-compatible object storage, for real over HTTP on loopback.

The endpoint is moto's S3 server (``moto[server]``, a dev dependency) in a thread; the storage
is configured exactly as ``settings.py`` builds it from the MACHI_DOCUMENTS_S3_* variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import Client

from machi.core.exceptions import Conflict
from machi.core.models import AuditEntry, User
from machi.documents import services
from machi.documents.models import IssuedDocument
from machi.documents.stored import document_sweep_orphans
from machi.documents.verification import Verdict, verify_id
from machi.procedures.extensions import ApplicationHooks, application_hooks

moto_server = pytest.importorskip(
    "moto.moto_server.threaded_moto_server",
    reason="moto[server] is not installed (make install-dev installs it)",
)
boto3 = pytest.importorskip("boto3", reason="boto3 is not installed")
pytest.importorskip("storages.backends.s3", reason="django-storages[s3] is not installed")

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.documents.tests.urls")]

REGION = "ap-northeast-1"
PREFIX = "issued"
ACCESS_KEY = "machi-test-access"  # moto accepts any credentials
SECRET_KEY = "machi-test-secret"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def storage_from_environment(endpoint: str, bucket: str) -> dict:
    """``STORAGES["documents"]`` as settings.py builds it from these variables (a fresh process)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MACHI_DOCUMENTS_S3_")},
        "MACHI_DOCUMENTS_STORAGE": "s3",
        "MACHI_DOCUMENTS_S3_BUCKET": bucket,
        "MACHI_DOCUMENTS_S3_PREFIX": f"/{PREFIX}/",
        "MACHI_DOCUMENTS_S3_ENDPOINT_URL": endpoint,
        "MACHI_DOCUMENTS_S3_REGION": REGION,
        "MACHI_DOCUMENTS_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "MACHI_DOCUMENTS_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "MACHI_DOCUMENTS_S3_ADDRESSING_STYLE": "path",
    }
    script = "import json, machi.settings as s; print(json.dumps(s.STORAGES['documents']))"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def s3_storage_config(s3_endpoint) -> dict:
    return storage_from_environment(s3_endpoint, "machi-documents")


@pytest.fixture
def bucket(settings, s3_endpoint, s3_storage_config):
    name = f"machi-documents-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    options = {**s3_storage_config["OPTIONS"], "bucket_name": name}
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {**s3_storage_config, "OPTIONS": options},
    }
    return client, name


def keys(bucket) -> list[str]:
    client, name = bucket
    listing = client.list_objects_v2(Bucket=name)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def body(bucket, key: str) -> bytes:
    client, name = bucket
    return client.get_object(Bucket=name, Key=key)["Body"].read()


def issue(application) -> IssuedDocument:
    return services.document_issue(application=application, actor=None, kind="certificate")


def test_settings_build_the_s3_storage_from_the_environment(s3_endpoint, s3_storage_config):
    assert s3_storage_config == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "machi-documents",
            "location": PREFIX,
            "endpoint_url": s3_endpoint,
            "region_name": REGION,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "addressing_style": "path",
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }


def test_issued_pdf_goes_to_the_bucket_and_downloads_checked(bucket, make_application):
    resident = User.objects.create_user(username="hanako@example.jp", password="x-y-z-123456")
    document = issue(make_application(applicant=resident))
    key = f"{PREFIX}/{document.storage_name}"
    assert keys(bucket) == [key]
    data = body(bucket, key)
    assert data.startswith(b"%PDF-") and len(data) == document.size
    client = Client()
    client.force_login(resident)
    response = client.get(f"/my/documents/{document.pk}/download/")
    assert response.status_code == 200
    assert response.content == data
    assert verify_id(document.verification_id).verdict == Verdict.VALID


def test_rollback_deletes_the_object(bucket, application):
    class Refuse(ApplicationHooks):
        def check_transition(self, application, to_status, outcome):
            raise Conflict("手数料が未納です。", code="fee_unpaid")

    with application_hooks.override({"refuse": Refuse()}), pytest.raises(Conflict):
        issue(application)
    assert keys(bucket) == []
    assert not IssuedDocument.objects.exists()


def test_replaced_or_deleted_objects_are_refused(bucket, application):
    client, name = bucket
    document = issue(application)
    key = f"{PREFIX}/{document.storage_name}"
    client.put_object(Bucket=name, Key=key, Body=b"%PDF-1.7 replaced")
    with pytest.raises(services.DocumentUnavailable) as replaced:
        services.document_read(document=document)
    client.delete_object(Bucket=name, Key=key)
    with pytest.raises(services.DocumentUnavailable) as deleted:
        services.document_read(document=document)
    assert (replaced.value.code, deleted.value.code) == ("document_corrupt", "document_missing")
    assert replaced.value.status == 503
    codes = list(
        AuditEntry.objects.filter(action="document.integrity_failed")
        .order_by("sequence")
        .values_list("detail__code", flat=True)
    )
    assert codes == ["document_corrupt", "document_missing"]


def test_unreachable_endpoint_is_storage_unavailable(settings, bucket, application):
    document = issue(application)
    config = settings.STORAGES["documents"]
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            **config,
            "OPTIONS": {**config["OPTIONS"], "endpoint_url": "http://127.0.0.1:9"},
        },
    }
    with pytest.raises(services.DocumentUnavailable) as excinfo:
        services.document_read(document=document)
    assert excinfo.value.code == "storage_unavailable"


def test_sweep_lists_the_bucket(bucket, application):
    client, name = bucket
    document = issue(application)
    orphan = "282103/ab/ab" + "0" * 30 + ".pdf"
    client.put_object(Bucket=name, Key=f"{PREFIX}/{orphan}", Body=b"%PDF-1.7 left behind")
    assert document_sweep_orphans(older_than=timedelta(hours=1)) == []  # too new
    assert document_sweep_orphans(older_than=timedelta(0)) == [orphan]
    assert keys(bucket) == [f"{PREFIX}/{document.storage_name}"]
