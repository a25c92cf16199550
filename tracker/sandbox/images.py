"""Small valid image files derived from a file name, so posters and logos are deterministic bytes."""

from __future__ import annotations

import hashlib
import struct
import zlib

# A baseline 8x8 greyscale JPEG: one quantisation table, one-code Huffman tables and a single
# block whose DC difference is 0 and whose AC run is an immediate end-of-block.
_JPEG_HEAD = (
    b"\xff\xd8"
    + b"\xff\xdb\x00\x43\x00" + bytes([1] * 64)
    + b"\xff\xc0\x00\x0b\x08\x00\x08\x00\x08\x01\x01\x11\x00"
    + b"\xff\xc4\x00\x14\x00" + bytes([1] + [0] * 15) + b"\x00"
    + b"\xff\xc4\x00\x14\x10" + bytes([1] + [0] * 15) + b"\x00"
)
_JPEG_SCAN = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x3f" + b"\xff\xd9"


def jpeg_bytes(name: str) -> bytes:
    """A valid 8x8 JPEG whose comment segment names the file (so every name has its own bytes)."""
    comment = f"tracker sandbox image {name} {hashlib.sha1(name.encode()).hexdigest()}".encode()
    return _JPEG_HEAD + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + _JPEG_SCAN


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(name: str) -> bytes:
    """A valid 8x8 PNG filled with a colour derived from the file name."""
    r, g, b = hashlib.sha1(name.encode()).digest()[:3]
    rows = b"".join(b"\x00" + bytes([r, g, b]) * 8 for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(rows))
            + _png_chunk(b"IEND", b""))


def image_for(file_name: str) -> tuple[bytes, str] | None:
    """(bytes, content type) for an image file name, or None for an extension TMDB does not serve."""
    lower = file_name.lower()
    if lower.endswith((".jpg", ".jpeg")):
        return jpeg_bytes(file_name), "image/jpeg"
    if lower.endswith(".png"):
        return png_bytes(file_name), "image/png"
    return None
