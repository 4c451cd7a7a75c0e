"""PDFs: active content removed, page content kept; encrypted and broken files refused."""

from __future__ import annotations

import io

import pikepdf
import pytest

from machi.files.exceptions import UnsafeFile
from machi.files.policy import DEFAULT_POLICY, PDF, FilePolicy
from machi.files.sanitise import sanitise, sanitise_pdf
from machi.files.tests import builders


def _reopen(data: bytes) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(data))


def _all_objects(pdf: pikepdf.Pdf) -> list[pikepdf.Object]:
    return [obj for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream)]


@pytest.fixture(scope="module")
def cleaned() -> tuple[bytes, tuple[str, ...]]:
    result = sanitise(builders.hostile_pdf(), policy=DEFAULT_POLICY)
    assert result.content_type == PDF
    return result.data, result.removed


def test_removal_notes_name_each_kind(cleaned):
    _data, removed = cleaned
    assert removed == (
        "additional_actions",
        "embedded_files",
        "javascript",
        "launch",
        "rich_media",
        "submit_form",
        "uri",
        "xfa",
    )


def test_document_level_active_content_is_gone(cleaned):
    pdf = _reopen(cleaned[0])
    root = pdf.Root
    assert "/OpenAction" not in root
    assert "/AA" not in root
    assert "/JavaScript" not in root.Names
    assert "/EmbeddedFiles" not in root.Names
    assert "/AF" not in root
    assert "/XFA" not in root.AcroForm
    assert len(pdf.attachments) == 0
    # Harmless structure stays: named destinations and the form field itself.
    assert "/Dests" in root.Names
    assert len(root.AcroForm.Fields) == 1


def test_no_script_launch_or_embedded_file_anywhere(cleaned):
    data, _removed = cleaned
    pdf = _reopen(data)
    for obj in _all_objects(pdf):
        assert "/JS" not in obj
        assert "/AA" not in obj
        assert "/EF" not in obj
        assert obj.get("/Type") != pikepdf.Name.EmbeddedFile
        assert obj.get("/S") not in (
            pikepdf.Name.JavaScript,
            pikepdf.Name.Launch,
            pikepdf.Name.SubmitForm,
        )
        assert obj.get("/Subtype") not in (pikepdf.Name.FileAttachment, pikepdf.Name.RichMedia)
    assert builders.EMBEDDED_PAYLOAD not in data
    assert b"app.alert" not in data
    assert b"cmd.exe" not in data


def test_annotations_lose_unsafe_actions_but_keep_web_links(cleaned):
    pdf = _reopen(cleaned[0])
    page = pdf.pages[0].obj
    assert "/AA" not in page
    annots = list(page.Annots)
    subtypes = [str(a.Subtype) for a in annots]
    assert "/FileAttachment" not in subtypes and "/RichMedia" not in subtypes
    links = [a for a in annots if a.Subtype == pikepdf.Name.Link]
    assert len(links) == 4  # the link boxes stay, inert where their action was unsafe
    actions = [a.get("/A") for a in links]
    uris = [str(a.URI) for a in actions if a is not None and a.S == pikepdf.Name.URI]
    assert uris == ["https://www.city.kakogawa.lg.jp/"]  # file:// link removed, web link kept
    goto = next(a for a in actions if a is not None and pikepdf.Name.GoTo == a.S)
    assert "/Next" not in goto  # the chained SubmitForm is cut off


def test_bookmark_script_removed_bookmark_kept(cleaned):
    pdf = _reopen(cleaned[0])
    item = pdf.Root.Outlines.First
    assert str(item.Title) == "Run"
    assert "/A" not in item


def test_page_content_survives(cleaned):
    pdf = _reopen(cleaned[0])
    assert len(pdf.pages) == 2
    for number, page in enumerate(pdf.pages, start=1):
        content = page.obj.Contents.read_bytes()
        assert builders.PAGE_TEXT + b" %d" % number in content
        assert page.obj.Resources.Font.F1.BaseFont == pikepdf.Name.Helvetica


def test_clean_pdf_passes_with_no_notes():
    result = sanitise_pdf(builders.plain_pdf(pages=3))
    assert result.removed == ()
    assert len(_reopen(result.data).pages) == 3


def test_plain_destination_open_action_is_removed_as_open_action():
    pdf = pikepdf.open(io.BytesIO(builders.plain_pdf(pages=2)))
    pdf.Root.OpenAction = pikepdf.Array([pdf.pages[1].obj, pikepdf.Name.Fit])
    out = io.BytesIO()
    pdf.save(out)
    result = sanitise_pdf(out.getvalue())
    assert result.removed == ("open_action",)


def test_actions_disguised_by_type_are_still_removed():
    pdf = pikepdf.open(io.BytesIO(builders.plain_pdf()))
    bogus = pikepdf.Name("/Bogus")
    pdf.pages[0].obj.Annots = pikepdf.Array(
        [
            pikepdf.Dictionary(
                Type=bogus,
                Subtype=pikepdf.Name.Link,
                Rect=pikepdf.Array([0, 0, 10, 10]),
                A=pikepdf.Dictionary(Type=bogus, S=pikepdf.Name.Launch, F=pikepdf.String("calc")),
            ),
            pikepdf.Dictionary(
                Type=bogus,
                Subtype=pikepdf.Name.FileAttachment,
                Rect=pikepdf.Array([0, 0, 10, 10]),
            ),
        ]
    )
    out = io.BytesIO()
    pdf.save(out)
    result = sanitise_pdf(out.getvalue())
    assert set(result.removed) == {"launch", "embedded_files"}
    cleaned = _reopen(result.data)
    annots = list(cleaned.pages[0].obj.Annots)
    assert len(annots) == 1 and "/A" not in annots[0]


@pytest.mark.parametrize("user_password", ["secret", ""], ids=["user-password", "owner-only"])
def test_encrypted_pdf_is_refused(user_password):
    with pytest.raises(UnsafeFile) as caught:
        sanitise(builders.encrypted_pdf(user_password=user_password), policy=DEFAULT_POLICY)
    assert caught.value.code == "encrypted_pdf"
    assert str(caught.value.message) == (
        "パスワードや暗号化で保護されたPDFは受け付けられません。保護を解除したPDFを選んでください。"
    )


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + b"\x00junk<html><script>alert(1)</script>" * 40,
        b"%PDF-",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
    ],
    ids=["header-then-junk", "header-only", "no-pages"],
)
def test_unparsable_pdf_is_refused(data):
    with pytest.raises(UnsafeFile) as caught:
        sanitise(data, policy=DEFAULT_POLICY)
    assert caught.value.code == "corrupt_pdf"
    assert str(caught.value.message) == (
        "PDFファイルが壊れているか、読み取れません。別のファイルを選んでください。"
    )


def test_flate_bomb_is_refused_with_a_clear_error():
    bomb = builders.flate_bomb_pdf()
    assert len(bomb) < 400 * 1024  # ~200 KB on disk, 200 MB once inflated
    with pytest.raises(UnsafeFile) as caught:
        sanitise(bomb, policy=DEFAULT_POLICY)
    assert caught.value.code == "pdf_too_large_decompressed"
    assert str(caught.value.message) == (
        "PDFの中身を展開すると大きすぎます（100 MB を超えます）。"
        "ページ数を減らすか、別の方法で作ったPDFを選んでください。"
    )


def test_inflated_size_just_under_the_cap_passes():
    data = builders.flate_bomb_pdf(inflated=2 * 1024 * 1024)
    policy = FilePolicy(max_pdf_decompressed=3 * 1024 * 1024)
    assert len(_reopen(sanitise(data, policy=policy).data).pages) == 1
    with pytest.raises(UnsafeFile) as caught:
        sanitise(data, policy=FilePolicy(max_pdf_decompressed=2 * 1024 * 1024 - 1))
    assert caught.value.code == "pdf_too_large_decompressed"


def test_unsafe_items_of_an_action_array_become_null():
    """The sweep's array branch: /Next may be an array of actions; bad items are nulled.

    (pikepdf's second pass then drops the nulls, leaving the one safe action.)
    """
    result = sanitise_pdf(builders.next_action_array_pdf())
    assert result.removed == ("javascript", "launch")
    cleaned = _reopen(result.data)
    (link,) = cleaned.pages[0].obj.Annots
    assert str(link.A.URI) == "https://www.city.kakogawa.lg.jp/"
    chained = link.A.Next
    assert isinstance(chained, pikepdf.Dictionary)
    assert sorted(chained.keys()) == ["/S", "/URI"]
    assert str(chained.URI) == "https://example.jp/"
