"""Profile pictures: what is kept of an upload (its pixels, upright, square, small) and what is not
(metadata, other formats, oversized or disguised files)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from node.accounts import avatars
from node.core.errors import ValidationFailed
from node.settings import Settings

LIMIT = 1_000_000


def _photo(fmt: str = "JPEG", size: tuple[int, int] = (640, 480), *, with_gps: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 40, 40))
    out = io.BytesIO()
    if with_gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x0112] = 6  # Orientation: rotate 90° to show upright
        exif.get_ifd(0x8825)[2] = (48.0, 51.0, 30.0)  # GPSLatitude
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


def test_metadata_is_removed_and_the_picture_made_square_and_upright() -> None:
    original = _photo(with_gps=True)
    assert b"PhoneMaker" in original and Image.open(io.BytesIO(original)).getexif()
    made = avatars.normalise(original, max_bytes=LIMIT)
    assert b"PhoneMaker" not in made and b"Exif" not in made
    with Image.open(io.BytesIO(made)) as image:
        assert image.format == "JPEG" and image.size == (avatars.SIZE, avatars.SIZE)
        assert not image.getexif()


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_accepted(fmt: str) -> None:
    made = avatars.normalise(_photo(fmt, (300, 900)), max_bytes=LIMIT)
    assert Image.open(io.BytesIO(made)).size == (avatars.SIZE, avatars.SIZE)


def _refused(data: bytes, *, max_bytes: int = LIMIT) -> str:
    with pytest.raises(ValidationFailed) as caught:
        avatars.normalise(data, max_bytes=max_bytes)
    return caught.value.fields["avatar"]


def test_empty_oversized_and_non_images_are_refused() -> None:
    assert _refused(b"") == avatars.MSG_EMPTY
    assert _refused(_photo(), max_bytes=100) == avatars.MSG_TOO_BIG
    assert _refused(b"%PDF-1.7\n" + b"x" * 200) == avatars.MSG_NOT_IMAGE
    assert _refused(b"<svg xmlns='http://www.w3.org/2000/svg'/>") == avatars.MSG_NOT_IMAGE
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    assert _refused(gif.getvalue()) == avatars.MSG_NOT_IMAGE  # not one of the formats taken
    assert _refused(_photo()[:200]) == avatars.MSG_NOT_IMAGE  # truncated


def test_a_polyglot_file_is_refused_or_reduced_to_its_pixels() -> None:
    # HTML before the image: not what its first bytes should be.
    assert _refused(b"<html><script>alert(1)</script>" + _photo()) == avatars.MSG_NOT_IMAGE
    # A script appended after a valid image: only freshly encoded pixels come out.
    made = avatars.normalise(_photo() + b"<script>alert(1)</script>PK\x03\x04", max_bytes=LIMIT)
    assert b"script" not in made and b"PK\x03\x04" not in made


def test_decompression_bombs_are_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, format="PNG")  # tiny file, 81 million pixels
    assert len(out.getvalue()) < LIMIT
    assert _refused(out.getvalue()) in (avatars.MSG_TOO_BIG, avatars.MSG_NOT_IMAGE)


def test_only_our_names_lead_to_files(settings: Settings) -> None:
    assert avatars.path_of(settings, "../../etc/passwd") is None
    assert avatars.path_of(settings, "A" * 32) is None
    assert avatars.path_of(settings, "a" * 32) == settings.data_dir / "avatars" / f"{'a' * 32}.jpg"
