"""Static files for fast repeat visits (issue 17, item 9).

At start-up every file under static/ gets a versioned name with its content hash in it
(`css/mall.css` -> `css/mall.3f2a9c1b0d4e.css`); pages link the versioned name through the
`static_url()` Jinja global. Vendored files already carry their version in their name
(`vendor/htmx-2.0.11.min.js`) and keep it. WhiteNoise serves both kinds with
`Cache-Control: max-age=315360000, public, immutable` (ten years: a changed file gets a new URL,
so a browser never has to ask again), and a brotli or gzip copy to clients that accept it.

WhiteNoise does not compress on the fly and decides its headers per file at start-up (it
never sees a `?v=` query), hence a build directory: the originals, their hashed copies and
the brotli and gzip of each text file, written once per distinct content under the instance folder.
The directory is named after the content, built in a temporary folder and renamed into
place, so gunicorn workers starting together never see half of it. Editing a file under
static/ takes a restart (the development server's reloader restarts on Python changes
only).
"""
import gzip
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import brotli
from flask import Flask, current_app, url_for
from whitenoise import WhiteNoise

# Part of the build folder's name: a change to what a build holds (brotli copies were added
# beside the gzip ones) makes a new folder instead of reusing an older one.
BUILD_FORMAT = 2
COMPRESSIBLE = {".css", ".js", ".svg", ".json", ".txt", ".map", ".html"}
# A content hash we gave the name, or a version the vendored file came with.
_HASHED = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")
_VENDOR_VERSION = re.compile(r"/vendor/[^/]*-\d+\.\d+\.\d+[^/]*$")


def is_versioned(url: str) -> bool:
    """WhiteNoise's immutable_file_test: the URL changes whenever the content does."""
    return bool(_HASHED.search(url) or _VENDOR_VERSION.search(url))


class StaticManifest:
    """Original name -> versioned name, for every file under the static folder."""

    def __init__(self, root: Path):
        self.root = root
        self.names: dict[str, str] = {}
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            name = path.relative_to(root).as_posix()
            if is_versioned("/" + name):
                self.names[name] = name
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            stem, dot, ext = name.rpartition(".")
            self.names[name] = f"{stem}.{digest}.{ext}" if dot and "/" not in ext else f"{name}.{digest}"

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(repr((BUILD_FORMAT, sorted(self.names.items()))).encode()).hexdigest()[:12]

    def build(self, parent: Path) -> Path:
        """The folder WhiteNoise serves: originals, versioned copies and their gzip."""
        target = parent / f"static-{self.fingerprint}"
        if target.is_dir():
            return target
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".static-", dir=parent))
        for name, versioned in self.names.items():
            for out in {name, versioned}:
                destination = staging / out
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.root / name, destination)
                if destination.suffix in COMPRESSIBLE:
                    data = destination.read_bytes()
                    packed = gzip.compress(data, compresslevel=9, mtime=0)
                    if len(packed) < len(data) * 0.95:  # not worth it otherwise
                        destination.with_name(destination.name + ".gz").write_bytes(packed)
                        # Brotli for browsers that offer it (WhiteNoise prefers .br): htmx is
                        # 10% smaller than its gzip.
                        destination.with_name(destination.name + ".br").write_bytes(
                            brotli.compress(data, quality=11))
        try:
            os.rename(staging, target)
        except OSError:  # another worker finished first: theirs has the same content
            shutil.rmtree(staging, ignore_errors=True)
        return target


def static_url(filename: str) -> str:
    """The versioned URL of a file under static/ (the plain one for a name we don't know)."""
    manifest: StaticManifest | None = current_app.extensions.get("mall.static")
    name = manifest.names.get(filename, filename) if manifest else filename
    return url_for("static", filename=name)


def _nosniff(headers, path, url):
    headers["X-Content-Type-Options"] = "nosniff"


def init_app(app: Flask) -> None:
    """Wrap the app in WhiteNoise over the build folder, and offer `static_url` to templates."""
    manifest = StaticManifest(Path(app.static_folder))
    app.extensions["mall.static"] = manifest
    served = manifest.build(Path(app.config["MALL_STATIC_BUILD_DIR"]))
    app.wsgi_app = WhiteNoise(app.wsgi_app, root=str(served), prefix=app.static_url_path,
                              max_age=app.config["MALL_STATIC_MAX_AGE"],
                              immutable_file_test=lambda path, url: is_versioned(url),
                              add_headers_function=_nosniff)
    app.jinja_env.globals["static_url"] = static_url
