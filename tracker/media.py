"""Media files from the APIs: plain-file-name checks and atomic, skip-if-present downloads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.errors import UnsafePath

if TYPE_CHECKING:
    from tracker.http import HttpClient

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".svg", ".webp")
_PLAIN_NAME_RE = re.compile(r"[A-Za-z0-9._-]+")


def _refuse(api_path: object) -> UnsafePath:
    """The error for a refused name, its echo kept short so a hostile value cannot flood a log."""
    shown = repr(api_path)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return UnsafePath(f"refused unsafe file name from the API: {shown}")


def _is_plain_image_name(name: str) -> bool:
    """A name that can only ever denote one file inside its folder, with an image extension."""
    return (
        _PLAIN_NAME_RE.fullmatch(name) is not None
        and not name.startswith(".")
        and ".." not in name
        and name.lower().endswith(IMAGE_EXTENSIONS)
    )


def safe_file_name(api_path: str) -> str:
    """The file name of a TMDB image path ("/abc123.jpg" -> "abc123.jpg"); UnsafePath otherwise."""
    if not isinstance(api_path, str) or not api_path.startswith("/"):
        raise _refuse(api_path)
    name = api_path[1:]
    if not _is_plain_image_name(name):
        raise _refuse(api_path)
    return name


async def save_image(http: HttpClient, url: str, dest_dir: Path, name: str) -> tuple[Path, bool]:
    """Download ``url`` to ``dest_dir/name`` unless present; returns (path, downloaded)."""
    # The name normally comes from safe_file_name already; check again at the point of writing.
    if not _is_plain_image_name(name):
        raise _refuse(name)
    dest = dest_dir / name
    if dest.is_file():
        return dest, False
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnsafePath(f"cannot create folder {dest_dir}: {exc.strerror or exc}") from exc
    await http.download("images", url, dest)
    return dest, True
