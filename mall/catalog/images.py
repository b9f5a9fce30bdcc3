"""Item images: checked, re-encoded and thumbnailed before anything is stored.

An upload must be a real JPEG, PNG or WebP under the size limit; Pillow decodes it, and we
store only our own re-encoding (WebP) under a random name, so no uploaded bytes, names or
metadata ever reach the disk or a browser.
"""
import io
import posixpath
import uuid
from pathlib import Path

from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError

from ..errors import DomainError

MAX_BYTES = 5 * 1024 * 1024
ALLOWED = {"JPEG", "PNG", "WEBP"}
FULL, THUMB = 1200, 320
# Subfolders store_image fills that /catalog/media never serves: appeal photos, which only
# the member who sent one and HQ see (appeals.appeal_photo).
APPEAL_PHOTOS = "appeals"
PRIVATE_FOLDERS = frozenset({APPEAL_PHOTOS})


def is_public(name: str) -> bool:
    """Whether an uploads-relative name may be served to anyone: not under a private folder,
    however the path is spelled (./appeals/x, items/../appeals/x)."""
    parts = [p for p in posixpath.normpath(name).split("/") if p]
    return bool(parts) and parts[0] not in PRIVATE_FOLDERS


class BadImage(DomainError):
    field = "image"


def store_image(data: bytes, folder: Path, subfolder: str = "items") -> str:
    """Return the stored image's name relative to the uploads folder (e.g. items/ab12.webp).
    Appeal photos go to their own subfolder, which is never served publicly."""
    if len(data) > MAX_BYTES:
        raise BadImage(_l("The image is larger than 5 MB."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise BadImage(_l("That file is not an image we can read.")) from exc
    if kind not in ALLOWED:
        raise BadImage(_l("Use a JPEG, PNG or WebP image."))
    image = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
    name = uuid.uuid4().hex
    target = folder / subfolder
    target.mkdir(parents=True, exist_ok=True)
    for size, suffix in ((FULL, ""), (THUMB, "-thumb")):
        copy = image.copy()
        copy.thumbnail((size, size))
        copy.save(target / f"{name}{suffix}.webp", "WEBP", quality=85)
    return f"{subfolder}/{name}.webp"


def discard_image(folder: Path, name: str) -> None:
    """Remove a stored image and its thumbnail (one that no row came to name)."""
    for stored in (name, thumbnail_of(name)):
        (folder / stored).unlink(missing_ok=True)


def thumbnail_of(name: str) -> str:
    return name.replace(".webp", "-thumb.webp")
