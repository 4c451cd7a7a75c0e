"""Images: re-encoded upright without metadata; corrupt files and bombs refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from machi.files.exceptions import UnsafeFile
from machi.files.policy import DEFAULT_POLICY, JPEG, PNG, FilePolicy
from machi.files.sanitise import sanitise
from machi.files.tests import builders

METADATA_KEYS = ("exif", "icc_profile", "comment", "xmp", "XML:com.adobe.xmp", "photoshop")


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel


def test_jpeg_loses_exif_gps_and_other_metadata():
    source = builders.jpeg_with_gps(size=(64, 32))
    assert _open(source).getexif()  # the input really has EXIF (with GPS)
    result = sanitise(source, policy=DEFAULT_POLICY)
    assert result.content_type == JPEG
    assert result.removed == ("comment", "exif", "gps", "icc_profile", "xmp")
    image = _open(result.data)
    assert image.format == "JPEG"
    assert image.size == (64, 32)
    assert not image.getexif()
    assert not any(key in image.info for key in METADATA_KEYS)
    assert b"MachiCam" not in result.data and b"xmpmeta" not in result.data
    assert b"Exif\x00\x00" not in result.data


def test_jpeg_is_turned_upright_by_its_orientation():
    # Orientation 6: stored 64×32 with the blue half on the left, shown rotated 90° clockwise.
    result = sanitise(builders.jpeg_with_gps(size=(64, 32), orientation=6), policy=DEFAULT_POLICY)
    image = _open(result.data).convert("RGB")
    assert image.size == (32, 64)
    top = _rgb(image, (16, 5))
    bottom = _rgb(image, (16, 58))
    assert top[2] > 150 and top[0] < 100  # blue on top after turning
    assert bottom[0] > 150 and bottom[2] < 100
    assert not _open(result.data).getexif()  # no orientation left to apply twice


def test_png_text_chunks_removed_and_transparency_kept():
    source = builders.png_with_text()
    assert _open(source).text  # type: ignore[attr-defined]
    result = sanitise(source, policy=DEFAULT_POLICY)
    assert result.content_type == PNG
    assert result.removed == ("text", "xmp")
    image = _open(result.data)
    assert image.text == {}  # type: ignore[attr-defined]
    assert image.mode == "RGBA" and image.getpixel((0, 0)) == (0, 128, 0, 200)
    assert "山田".encode() not in result.data and b"Author" not in result.data


def test_plain_png_has_nothing_to_remove():
    result = sanitise(builders.plain_png(), policy=DEFAULT_POLICY)
    assert result.removed == ()


@pytest.mark.parametrize(
    "data",
    [
        builders.jpeg_with_gps(size=(200, 200))[:400],
        builders.plain_png(size=(64, 64))[:-20],
        builders.plain_png()[:30] + b"\x00" * 4 + builders.plain_png()[34:],  # bad CRC in IHDR
        b"\xff\xd8\xff\xe0" + b"\x00" * 100,
    ],
    ids=["truncated-jpeg", "truncated-png", "bad-crc-png", "jpeg-header-only"],
)
def test_corrupt_image_is_refused(data):
    with pytest.raises(UnsafeFile) as caught:
        sanitise(data, policy=DEFAULT_POLICY)
    assert caught.value.code == "corrupt_image"


def test_decompression_bomb_is_refused_before_decoding():
    bomb = builders.png_bomb(100_000, 100_000)  # 10 billion pixels in ~100 bytes
    assert len(bomb) < 2000
    with pytest.raises(UnsafeFile) as caught:
        sanitise(bomb, policy=DEFAULT_POLICY)
    assert caught.value.code == "image_too_large"
    assert str(caught.value.message) == (
        "画像の画素数が大きすぎます。4,000万画素以下の画像を選んでください。"
    )


def test_pixel_cap_comes_from_the_policy():
    policy = FilePolicy(max_pixels=100)
    with pytest.raises(UnsafeFile) as caught:
        sanitise(builders.plain_png(size=(11, 10)), policy=policy)
    assert caught.value.code == "image_too_large"
    assert sanitise(builders.plain_png(size=(10, 10)), policy=policy).content_type == PNG
