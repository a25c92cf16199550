"""Media files from the APIs: plain-file-name checks and atomic, skip-if-present downloads."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import aiofiles
import aiofiles.os

from tracker.errors import NotAnImage, UnsafePath
from tracker.values import shorten

if TYPE_CHECKING:
    import aiohttp


class Downloader(Protocol):
    """What ``save_image`` needs of an HTTP client: a download to a file (kept apart from the
    transport so that this module and ``http`` do not import each other)."""

    async def download(self, kind: str, url: str, dest: Path) -> int:
        """Fetch ``url`` into ``dest``; the bytes written."""

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".svg", ".webp")
_PLAIN_NAME_RE = re.compile(r"[A-Za-z0-9._-]+")
# A body up to this size (every real poster or logo) is held in memory and written in one
# thread hop; a larger one is streamed in writes of this size. Each hop to aiofiles' threads
# costs the event loop more than the write itself.
_BUFFER_BYTES = 256 * 1024
# Small bodies gather this long before one thread hop writes them all: on a small VM a hop
# (thread wake-up, GIL hand-over, loop wake-up) costs ~0.7 ms of CPU, far more than the write.
_GATHER_S = 0.02
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


_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"),
          (b"GIF89a", "GIF"))


def image_kind(head: bytes, name: str) -> str | None:
    """The image format the first bytes of a body show (JPEG, PNG, GIF, WebP, SVG), or None."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if name.lower().endswith(".svg"):
        text = head[:4096].lower()
        if b"<svg" in text and b"<html" not in text:
            return "SVG"
    return None


def refuse_non_image(head: bytes, name: str) -> None:
    """Refuse (a failed file, with the reason) a body that is not an image: an HTML error page,
    say, which a server answered with 200 and which must not be saved as a poster."""
    if image_kind(head, name) is not None:
        return
    if not head:
        raise NotAnImage(f"{name}: the image host sent an empty body, not an image")
    start = head[:200].lstrip().lower()
    looks = "HTML" if start.startswith((b"<!doctype html", b"<html")) else "unknown data"
    raise NotAnImage(f"{name}: the image host sent {looks}, not an image "
                     f"(first bytes {shorten(repr(head[:16]), 40)})")


async def save_image(http: Downloader, url: str, dest_dir: Path, name: str) -> tuple[Path, bool]:
    """Download ``url`` to ``dest_dir/name`` unless present; returns (path, downloaded)."""
    # The name normally comes from safe_file_name already; check again at the point of writing.
    if not _is_plain_image_name(name):
        raise _refuse(name)
    dest = dest_dir / name
    if dest.is_file():
        return dest, False
    if dest_dir not in _ready_dirs:
        _make_dir(dest_dir)
    await http.download("images", url, dest)
    return dest, True


def _make_dir(dest_dir: Path) -> None:
    """Create a media folder and remember it exists, so later files cost no mkdir."""
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnsafePath(f"cannot create folder {dest_dir}: {exc.strerror or exc}") from exc
    _ready_dirs.add(dest_dir)


class SmallFiles:
    """Small bodies written in batches: one aiofiles thread hop for all that gathered."""

    def __init__(self) -> None:
        """Nothing pending; bound to the running loop on first use."""
        self._pending: list[tuple[Path, Path, bytes, asyncio.Future[None]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._hops: set[asyncio.Task[None]] = set()

    async def write(self, temp: Path, dest: Path, data: bytes) -> None:
        """Write ``data`` to ``temp`` and rename it to ``dest``; returns once it is in place."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((temp, dest, data, done))
        if self._timer is None:
            self._timer = loop.call_later(_GATHER_S, self._hop)
        # Cancelled meanwhile, the write still happens in the batch: the file lands whole.
        await done

    def _hop(self) -> None:
        """Hand everything pending to one thread job."""
        batch, self._pending, self._timer = self._pending, [], None
        task = asyncio.ensure_future(self._write(batch))
        self._hops.add(task)
        task.add_done_callback(self._hops.discard)

    async def _write(self, batch: list[tuple[Path, Path, bytes, asyncio.Future[None]]]) -> None:
        """Run the batch on aiofiles' threads and give each writer its own outcome."""
        try:
            errors = await _write_all([(t, d, b) for t, d, b, _ in batch])
        except asyncio.CancelledError:
            for *_, done in batch:
                done.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - the hop itself failed: every writer hears of it
            errors = [exc] * len(batch)
        for (_, _, _, done), error in zip(batch, errors, strict=True):
            if done.done():
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)


async def stream_to_file(content: aiohttp.StreamReader, dest: Path, small: SmallFiles) -> int:
    """Write a body to a temporary sibling of ``dest``, then rename; no temp file survives."""
    # pid + counter is unique enough for a temporary name and far cheaper than uuid4().
    temp = dest.with_name(f".{dest.name}.{os.getpid()}-{next(_temp_serial)}.part")
    head = await _read_up_to(content, _BUFFER_BYTES)
    refuse_non_image(head, dest.name)
    if len(head) < _BUFFER_BYTES or content.at_eof():
        await small.write(temp, dest, head)
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


def _opener(path: str, flags: int) -> int:
    """os.open for a temporary file; a media folder removed since we made it is made again."""
    try:
        return os.open(path, flags, 0o666)
    except FileNotFoundError:
        # Folders are made once (see _ready_dirs), but a user may clear media/ between runs.
        # Only a folder save_image made is made again: another missing folder is an error.
        parent = Path(path).parent
        if parent not in _ready_dirs:
            raise
        parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags, 0o666)


def _write_whole_sync(temp: Path, dest: Path, data: bytes) -> None:
    """Open, write and close the temporary file, then rename it into place (one thread hop)."""
    try:
        with open(temp, "wb", opener=_opener) as out:
            out.write(data)
        os.replace(temp, dest)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _write_all_sync(batch: list[tuple[Path, Path, bytes]]) -> list[BaseException | None]:
    """Each file of a batch written and renamed into place; each one's error, or None."""
    errors: list[BaseException | None] = []
    for temp, dest, data in batch:
        try:
            _write_whole_sync(temp, dest, data)
            errors.append(None)
        except Exception as exc:  # noqa: BLE001 - one file's failure is that file's alone
            errors.append(exc)
    return errors


_write_all = aiofiles.os.wrap(_write_all_sync)


async def _stream_rest(content: aiohttp.StreamReader, head: bytes, temp: Path, dest: Path) -> int:
    """A large body: streamed with aiofiles in _BUFFER_BYTES writes, then renamed into place."""
    written = 0
    try:
        async with aiofiles.open(temp, "wb", opener=_opener) as out:
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
