"""/verify/: by upload and by id, with clear answers for every kind of bad input."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from machi.documents import services
from machi.documents.pki import configured_trust_roots
from machi.documents.rendering import PdfContent, render_pdf
from machi.documents.tests.conftest import pdf_of
from machi.documents.tests.test_external_tools import tamper
from machi.documents.validation import validate_pdf

pytestmark = [pytest.mark.django_db, pytest.mark.urls("machi.documents.tests.urls")]

VERDICT = re.compile(r'data-verdict="([a-z_]+)"')


def verdict(response) -> str:
    match = VERDICT.search(response.content.decode())
    assert match, response.content.decode()[:2000]
    return match.group(1)


def upload(client: Client, data: bytes, name: str = "document.pdf"):
    return client.post(
        "/verify/", {"pdf": SimpleUploadedFile(name, data, content_type="application/pdf")}
    )


@pytest.fixture
def document(application):
    return services.document_issue(application=application, actor=None, kind="certificate")


def test_the_page_works_without_javascript(client):
    response = client.get("/verify/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<h1>") == 1
    assert 'enctype="multipart/form-data"' in html
    assert '<label for="id_pdf">' in html and '<label for="id_verification_id">' in html
    assert "<script" not in html


def test_upload_of_the_issued_pdf_is_valid(client, document):
    response = upload(client, pdf_of(document))
    assert response.status_code == 200
    assert verdict(response) == "valid"
    html = response.content.decode()
    assert "Machi が発行した文書です" in html
    assert "CN=加古川市長,O=加古川市,C=JP" in html
    assert document.display_verification_id in html
    assert "タイムスタンプ" in html


def test_verification_by_id_and_qr_link(client, document):
    response = client.get(f"/verify/{document.verification_id}/")
    assert response.status_code == 200
    assert verdict(response) == "valid"
    assert document.title in response.content.decode()
    # Typed by hand: lower case with hyphens and look-alikes → the canonical page.
    typed = document.display_verification_id.lower()
    response = client.get("/verify/", {"verification_id": typed})
    assert response.status_code == 302
    assert response["Location"] == f"/verify/{document.verification_id}/"


def test_unknown_and_malformed_ids(client, document):
    response = client.get("/verify/ZZZZZZZZZZZZ/")
    assert response.status_code == 404
    assert verdict(response) == "not_found"
    assert "この検証IDの文書は見つかりません" in response.content.decode()
    response = client.get("/verify/", {"verification_id": "hello"})
    assert response.status_code == 400
    assert "検証IDは12文字の英数字です" in response.content.decode()
    assert client.get("/verify/%00%FF<script>/").status_code == 404


def test_a_flipped_byte_is_reported_as_modified(client, document):
    response = upload(client, tamper(pdf_of(document)))
    assert response.status_code == 200
    assert verdict(response) == "modified"
    html = response.content.decode()
    assert "改ざんされています" in html
    assert document.display_verification_id in html  # found through the id it claims


def test_changes_added_after_signing_are_modified(client, document):
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_of(document)))
    stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 100 Td (FAKE) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(stream))
    out = io.BytesIO()
    writer.write(out)
    (report,) = validate_pdf(out.getvalue(), trust_roots=configured_trust_roots())
    assert report.intact and not report.unmodified
    response = upload(client, out.getvalue())
    assert verdict(response) == "modified"
    assert "署名の後に文書が変更されています" in response.content.decode()


def test_trailing_bytes_make_a_different_file(client, document):
    response = upload(client, pdf_of(document) + b"\n% appended\n")
    assert verdict(response) == "modified"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"%PDF-1.7\n garbage \x00\xff",
        b"%PDF-1.4\n" + b"A" * 5000,
        bytes(range(256)) * 10,
    ],
)
def test_garbage_never_fails(client, data):
    response = upload(client, data)
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert verdict(response) in {"not_pdf", "unknown"}


def test_a_pdf_machi_did_not_issue_is_unknown(client, db):
    import datetime as dt

    pdf = render_pdf(
        PdfContent(
            title="偽の許可書",
            body="本文",
            municipality_name="加古川市",
            head_title="加古川市長",
            receipt_number="",
            applicant_name="誰か",
            issue_date="令和8年1月1日",
            verification_id="0000-0000-0000",
            verify_url="http://testserver/verify/000000000000/",
            issued_at=dt.datetime.now(tz=dt.UTC),
        )
    )
    response = upload(client, pdf)
    assert response.status_code == 200
    assert verdict(response) == "unknown"
    assert "電子署名がありません" in response.content.decode()


def test_untrusted_signer(client, settings, document, tmp_path):
    from machi.documents.pki import DocumentPki, cert_pem

    other = DocumentPki(tmp_path / "other", auto_create=True)
    other.init()
    roots = tmp_path / "roots.pem"
    roots.write_bytes(b"".join(cert_pem(c) for c in other.roots()))
    settings.MACHI_DOCUMENTS_TRUST_ROOTS = [str(roots)]
    response = upload(client, pdf_of(document))
    assert verdict(response) == "untrusted"
    assert "信頼できる認証局につながりません" in response.content.decode()


def test_oversized_upload(client, settings, document):
    settings.MACHI_DOCUMENTS_VERIFY_MAX_BYTES = 1024 * 1024
    response = upload(client, b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert verdict(response) == "too_large"
    assert "ファイルが大きすぎます" in response.content.decode()
    # Just over the limit (the body is within the multipart allowance): the handler stops it.
    response = upload(client, b"%PDF-1.7\n" + b"0" * (1024 * 1024 + 10))
    assert response.status_code == 413


def test_empty_form_is_a_form_error(client):
    response = client.post("/verify/", {})
    assert response.status_code == 400
    assert "確認するPDFファイルを選んでください" in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()


def test_uploads_are_rate_limited(client, settings):
    settings.MACHI_DOCUMENTS_VERIFY_RATE_LIMIT = "2/m"
    for _i in range(2):
        assert upload(client, b"hello").status_code == 200
    response = upload(client, b"hello")
    assert response.status_code == 429
    assert "しばらくしてからお試しください" in response.content.decode()


def test_csrf_is_still_checked(document):
    client = Client(enforce_csrf_checks=True)
    assert upload(client, pdf_of(document)).status_code == 403
    page = client.get("/verify/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/verify/",
        {
            "csrfmiddlewaretoken": token,
            "pdf": SimpleUploadedFile("d.pdf", pdf_of(document), content_type="application/pdf"),
        },
    )
    assert response.status_code == 200
    assert verdict(response) == "valid"


def test_revoked_documents_say_so(client, document, kakogawa_admin):
    services.document_revoke(document=document, actor=kakogawa_admin, reason="誤記のため")
    response = upload(client, pdf_of(document))
    assert verdict(response) == "revoked"
    assert "誤記のため" in response.content.decode()
    response = client.get(f"/verify/{document.verification_id}/")
    assert verdict(response) == "revoked"


def test_validation_inside_a_running_event_loop(document):
    async def check():
        return validate_pdf(pdf_of(document), trust_roots=configured_trust_roots())

    (report,) = asyncio.run(check())
    assert report.ok


TITLE = re.compile(r'<p class="verdict-title">(.*?)</p>', re.S)
RESULT_CELL = re.compile(
    r"<tr class=\"(check-[a-z]+)\">\s*<th scope=\"row\">([^<]*)</th>\s*<td>([^<]*)</td>"
)


def verdict_title(response) -> str:
    """The verdict line as a reader sees it: the word, then the reason."""
    (title,) = TITLE.findall(response.content.decode())
    return " ".join(re.sub(r"<[^>]+>", " ", title).split())


def check_rows(response) -> list[tuple[str, str, str]]:
    return [
        tuple(cell.strip() for cell in row)
        for row in RESULT_CELL.findall(response.content.decode())
    ]


def test_genuine_document_leads_with_valid(client, document):
    response = upload(client, pdf_of(document))
    assert verdict_title(response) == "有効"
    html = response.content.decode()
    assert 'class="verdict verdict-valid"' in html
    assert html.index('id="verify-verdict"') < html.index("確認した項目（詳細）")
    assert [row[0] for row in check_rows(response)] == ["check-ok"] * 7
    assert "－ 参考" not in html and "✗" not in html


def test_tampered_document_leads_with_invalid_and_shows_no_check_mark(client, document):
    response = upload(client, tamper(pdf_of(document)))
    assert verdict_title(response) == "無効 改ざんされています"
    html = response.content.decode()
    assert 'class="verdict verdict-invalid"' in html
    rows = check_rows(response)
    # The first problem decides; what follows is reference only, never a ✓ beside the ✗.
    assert rows[0] == ("check-problem", "発行記録", "✗ 問題あり")
    assert {row[0] for row in rows[1:]} <= {"check-problem", "check-reference"}
    assert "✓" not in html


def test_unknown_id_leads_with_invalid_not_found(client, document):
    response = client.get("/verify/ZZZZZZZZZZZZ/")
    assert verdict_title(response) == "無効 見つかりません"
    assert check_rows(response) == []


def test_untrusted_and_revoked_reasons(client, settings, document, kakogawa_admin, tmp_path):
    from machi.documents.pki import DocumentPki, cert_pem

    services.document_revoke(document=document, actor=kakogawa_admin, reason="誤記のため")
    assert verdict_title(upload(client, pdf_of(document))) == "無効 失効しています"
    other = DocumentPki(tmp_path / "other", auto_create=True)
    other.init()
    roots = tmp_path / "roots.pem"
    roots.write_bytes(b"".join(cert_pem(c) for c in other.roots()))
    settings.MACHI_DOCUMENTS_TRUST_ROOTS = [str(roots)]
    assert verdict_title(upload(client, pdf_of(document))) == "無効 署名者が信頼できません"


def test_unreadable_file_is_not_checked(client):
    assert verdict_title(upload(client, b"hello")) == "確認できません PDFとして読み取れません"


def test_verify_stylesheet_is_a_served_static_file(client, document):
    from django.contrib.staticfiles import finders

    html = upload(client, pdf_of(document)).content.decode()
    assert '<link rel="stylesheet" href="/static/documents/verify.css">' in html
    assert "style=" not in html and "<style" not in html
    css = finders.find("documents/verify.css")
    assert css is not None
    text = Path(css).read_text(encoding="utf-8")
    assert ".verdict-valid" in text and ".verdict-invalid" in text
