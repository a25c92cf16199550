"""Media files from the APIs: plain-file-name checks and atomic, skip-if-present downloads."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import aiofiles
import aiofiles.os

from tracker.errors import ApiError, TrackerError, UnsafePath

if TYPE_CHECKING:
    import aiohttp

    from tracker.http import HttpClient

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".svg", ".webp")
_PLAIN_NAME_RE = re.compile(r"[A-Za-z0-9._-]+")
# A body up to this size (every real poster or logo) is held in memory and written in one
# thread hop; a larger one is streamed in writes of this size. Each hop to aiofiles' threads
# costs the event loop more than the write itself.
_BUFFER_BYTES = 256 * 1024
_temp_serial = itertools.count()
_ready_dirs: set[Path] = set()  # folders known to exist, so a poster costs no mkdir


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
    if dest_dir not in _ready_dirs:
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UnsafePath(f"cannot create folder {dest_dir}: {exc.strerror or exc}") from exc
        _ready_dirs.add(dest_dir)
    try:
        await http.download("images", url, dest)
    except TrackerError as exc:
        if not isinstance(exc, ApiError):
            # A local disk failure: the folder may have been removed, so check it again next time.
            _ready_dirs.discard(dest_dir)
        raise
    return dest, True


async def stream_to_file(content: aiohttp.StreamReader, dest: Path) -> int:
    """Write a body to a temporary sibling of ``dest``, then rename; no temp file survives."""
    # pid + counter is unique enough for a temporary name and far cheaper than uuid4().
    temp = dest.with_name(f".{dest.name}.{os.getpid()}-{next(_temp_serial)}.part")
    head = await _read_up_to(content, _BUFFER_BYTES)
    if len(head) < _BUFFER_BYTES or content.at_eof():
        # The thread finishes (or cleans up) even if we are cancelled meanwhile: the file lands
        # whole or not at all.
        await _write_whole(temp, dest, head)
        return len(head)
    return await _stream_rest(content, head, temp, dest)


async def _read_up_to(content: aiohttp.StreamReader, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body; fewer only at its end."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await content.read(limit - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _write_whole_sync(temp: Path, dest: Path, data: bytes) -> None:
    """Open, write and close the temporary file, then rename it into place (one thread hop)."""
    try:
        with open(temp, "wb") as out:
            out.write(data)
        os.replace(temp, dest)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


_write_whole = aiofiles.os.wrap(_write_whole_sync)


async def _stream_rest(content: aiohttp.StreamReader, head: bytes, temp: Path, dest: Path) -> int:
    """A large body: streamed with aiofiles in _BUFFER_BYTES writes, then renamed into place."""
    written = 0
    try:
        async with aiofiles.open(temp, "wb") as out:
            chunk = head
            while chunk:
                await out.write(chunk)
                written += len(chunk)
                chunk = await _read_up_to(content, _BUFFER_BYTES)
        os.replace(temp, dest)
    except BaseException:
        # Cancellation included: a half-written file must never be left behind.
        temp.unlink(missing_ok=True)
        raise
    return written
