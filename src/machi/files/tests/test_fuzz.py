"""Property: for any bytes, file_store stores something safe or refuses with UnsafeFile."""

from __future__ import annotations

import io

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from machi.files.exceptions import UnsafeFile
from machi.files.models import StoredFile
from machi.files.policy import JPEG, PDF, PNG, FilePolicy
from machi.files.services import file_store
from machi.files.tests import builders

# Broken inputs make Pillow and pikepdf warn (corrupt EXIF, stray widgets): expected here.
pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::UserWarning")]

SAMPLES = [
    builders.plain_pdf(),
    builders.hostile_pdf(),
    builders.jpeg_with_gps(size=(24, 16), orientation=6),
    builders.png_with_text(size=(12, 9)),
    builders.png_bomb(5_000, 5_000),
]
POLICY = FilePolicy(max_size=64 * 1024, max_pixels=1_000_000)
CODES = {
    "refused": {
        "too_large",
        "empty",
        "type_not_allowed",
        "corrupt_image",
        "image_too_large",
        "encrypted_pdf",
        "corrupt_pdf",
    }
}


@st.composite
def mutated_sample(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(0, 8))):
        index = draw(st.integers(0, len(data) - 1))
        data[index] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut]) if draw(st.booleans()) else bytes(data)


any_bytes = st.one_of(
    st.binary(max_size=2048),
    st.tuples(
        st.sampled_from([b"%PDF-1.7\n", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a"]),
        st.binary(max_size=2048),
    ).map(lambda parts: parts[0] + parts[1]),
    mutated_sample(),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=any_bytes)
def test_any_bytes_are_stored_safely_or_refused(kakogawa, private_root, data):
    try:
        stored = file_store(
            municipality_code=kakogawa.code,
            upload=data,
            name="upload.bin",
            policy=POLICY,
            actor=None,
            purpose="fuzz",
        )
    except UnsafeFile as exc:
        assert exc.code in CODES["refused"]
        return
    content = (private_root / stored.storage_name).read_bytes()
    assert stored.content_type in {PDF, JPEG, PNG}
    if stored.content_type == PDF:
        with pikepdf.open(io.BytesIO(content)) as pdf:
            assert len(pdf.pages) >= 1
            assert "/OpenAction" not in pdf.Root
    else:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            assert not image.getexif()
    StoredFile.objects.filter(pk=stored.pk).delete()
