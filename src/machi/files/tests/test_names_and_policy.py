"""Content sniffing, display names and policies (no database)."""

from __future__ import annotations

import pytest

from machi.files.exceptions import UnsafeFile
from machi.files.policy import DEFAULT_POLICY, JPEG, PDF, PNG, FilePolicy
from machi.files.sanitise import detect_type, display_name, sanitise
from machi.files.tests import builders

REFUSED_CONTENT = {
    "html": b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40,
    "exe": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 60,
    "gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,",
    "text": "住民票の写し".encode(),
    "pdf-after-bom": b"\xef\xbb\xbf%PDF-1.7\n",
}


@pytest.mark.parametrize("kind", sorted(REFUSED_CONTENT))
def test_other_content_is_refused_with_the_allowed_kinds_in_words(kind):
    with pytest.raises(UnsafeFile) as caught:
        sanitise(REFUSED_CONTENT[kind], policy=DEFAULT_POLICY)
    assert caught.value.code == "type_not_allowed"
    assert caught.value.status == 422
    assert str(caught.value.message) == (
        "この種類のファイルは受け付けられません。受け付けるのは PDF、JPEG画像、PNG画像 です。"
    )


def test_puremagic_names_refused_content_for_the_logs():
    with pytest.raises(UnsafeFile) as caught:
        sanitise(REFUSED_CONTENT["html"], policy=DEFAULT_POLICY)
    assert caught.value.detected_type == "text/html"


def test_a_kind_outside_the_policy_is_refused():
    policy = FilePolicy(allowed_types=frozenset({PDF}))
    with pytest.raises(UnsafeFile) as caught:
        sanitise(builders.plain_png(), policy=policy)
    assert caught.value.code == "type_not_allowed"
    assert caught.value.detected_type == PNG
    assert str(caught.value.message) == (
        "この種類のファイルは受け付けられません。受け付けるのは PDF です。"
    )


def test_empty_is_refused():
    with pytest.raises(UnsafeFile) as caught:
        sanitise(b"", policy=DEFAULT_POLICY)
    assert caught.value.code == "empty"


def test_policy_cannot_allow_kinds_without_a_sanitiser():
    with pytest.raises(ValueError, match="No sanitiser"):
        FilePolicy(allowed_types=frozenset({PDF, "image/svg+xml"}))
    with pytest.raises(ValueError):
        FilePolicy(max_size=0)


def test_detect_type_uses_leading_bytes_only():
    assert detect_type(builders.plain_pdf()) == PDF
    assert detect_type(builders.jpeg_with_gps()) == JPEG
    assert detect_type(builders.plain_png()) == PNG
    assert detect_type(b"junk" + builders.plain_png()) is None


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        ("申請書.pdf", PDF, "申請書.pdf"),
        ("x.pdf", PNG, "x.png"),
        ("IMG_0001.JPEG", JPEG, "IMG_0001.jpeg"),
        ("photo", JPEG, "photo.jpg"),
        ("C:\\Users\\yamada\\Desktop\\住民票.pdf", PDF, "住民票.pdf"),
        ("../../etc/passwd", PDF, "passwd.pdf"),
        ("invoice\u202efdp.exe", PDF, "invoicefdp.pdf"),  # RTL override dropped
        ("a<b>:c|d?.pdf", PDF, "a_b__c_d_.pdf"),
        ("   .hidden.pdf  ", PDF, "hidden.pdf"),
        ("", PNG, "file.png"),
        ("...", PDF, "file.pdf"),
        ("CON.pdf", PDF, "_CON.pdf"),
        ("\u304b\u3099.pdf", PDF, "が.pdf"),  # macOS decomposed kana → NFC
        ("report.tar.gz", PDF, "report.tar.pdf"),
        ("line\nbreak.pdf", PDF, "linebreak.pdf"),
    ],
)
def test_display_name(raw, content_type, expected):
    assert display_name(raw, content_type=content_type) == expected


def test_display_name_length_is_capped():
    name = display_name("あ" * 500 + ".pdf", content_type=PDF)
    assert name == "あ" * 100 + ".pdf"
