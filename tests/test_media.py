"""File names from the APIs and image saving: only plain names, atomic writes, skip if present."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from tests.http_support import (
    client,
    loopback,
    sequence,
    settings_for,
    truncated_body,
)
from tracker.clients.files import safe_file_name, save_image
from tracker.errors import ApiError, UnsafePath


@pytest.mark.parametrize(
    ("api_path", "name"),
    [("/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg", "pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg"), ("/a-b_c.d.png", "a-b_c.d.png"),
     ("/logo.svg", "logo.svg"), ("/x.webp", "x.webp"), ("/X.JPEG", "X.JPEG")],
)
def test_plain_names_are_accepted(api_path: str, name: str) -> None:
    """One leading slash and a plain image file name gives that name."""
    assert safe_file_name(api_path) == name


@pytest.mark.parametrize(
    "api_path",
    ["abc.jpg", "//abc.jpg", "/../x.jpg", "/a/b.jpg", "/.hidden.jpg", "/a..b.jpg", "/x.exe",
     "/x.jpg\n", "", "/", "/x.jpg?size=1", "/%2e%2e.jpg", "/a\\b.jpg", "/x", "/.jpg", "/x y.jpg",
     "/ü.jpg", "/x.jpg/", None],
)
def test_anything_else_is_refused(api_path) -> None:
    """Traversal, folders, hidden files, odd characters and non-images raise UnsafePath."""
    with pytest.raises(UnsafePath, match="refused unsafe file name from the API"):
        safe_file_name(api_path)


def test_refusal_message_is_bounded() -> None:
    """A hostile, huge value is not echoed whole into messages and logs."""
    with pytest.raises(UnsafePath) as caught:
        safe_file_name("/" + "a" * 10_000 + "/x.jpg")
    assert len(str(caught.value)) < 150


@given(st.text(min_size=0, max_size=40))
def test_any_accepted_name_stays_in_its_folder(text: str) -> None:
    """Whatever the API sends, an accepted name is one entry directly inside the target folder."""
    try:
        name = safe_file_name("/" + text)
    except UnsafePath:
        return
    folder = Path("/srv/posters")
    assert (folder / name).parent == folder and (folder / name).resolve().parent == folder
    assert not name.startswith(".") and "/" not in name and "\\" not in name


def image_routes(payload: bytes) -> dict:
    """An image server for /t/p/w500/abc.jpg."""

    async def image(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=payload, content_type="image/jpeg")

    return {"/t/p/w500/abc.jpg": image}


async def test_save_image_downloads_once_then_skips(tmp_path: Path) -> None:
    """The first save creates the folder and downloads; the second finds the file and skips."""
    dest_dir = tmp_path / "media" / "posters"
    async with loopback(image_routes(b"\xff\xd8\xffjpeg")) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            url = srv.url("/t/p/w500/abc.jpg")
            first = await save_image(http, url, dest_dir, "abc.jpg")
            second = await save_image(http, url, dest_dir, "abc.jpg")
    assert first == (dest_dir / "abc.jpg", True) and second == (dest_dir / "abc.jpg", False)
    assert (dest_dir / "abc.jpg").read_bytes() == b"\xff\xd8\xffjpeg"
    assert len(srv.hits) == 1
    assert [p.name for p in dest_dir.iterdir()] == ["abc.jpg"]


async def test_failed_save_leaves_no_file(tmp_path: Path) -> None:
    """A download broken every time leaves neither the image nor a temporary file."""
    dest_dir = tmp_path / "posters"
    async with loopback({"/t/p/w500/abc.jpg": truncated_body}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            with pytest.raises(ApiError):
                await save_image(http, srv.url("/t/p/w500/abc.jpg"), dest_dir, "abc.jpg")
    assert list(dest_dir.iterdir()) == []


async def test_save_retries_a_broken_download(tmp_path: Path) -> None:
    """A truncated first attempt is retried and the final file is whole."""
    async def image(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"\x89PNG\r\n\x1a\nwhole", content_type="image/png")

    async with loopback({"/t/p/w92/x.png": sequence(truncated_body, image)}) as srv:
        async with client(settings_for(srv, tmp_path)) as http:
            path, downloaded = await save_image(http, srv.url("/t/p/w92/x.png"), tmp_path, "x.png")
    assert downloaded and path.read_bytes() == b"\x89PNG\r\n\x1a\nwhole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


async def test_save_refuses_an_unsafe_name(tmp_path: Path) -> None:
    """save_image checks the name again before writing anything."""
    with pytest.raises(UnsafePath):
        await save_image(None, "http://127.0.0.1:9/x.jpg", tmp_path, "../x.jpg")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
