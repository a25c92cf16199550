"""Small valid image files derived from a file name, so posters and logos are deterministic bytes."""

from __future__ import annotations

import colorsys
import hashlib
import struct
import zlib

# A baseline 8x8 colour JPEG: Y, Cb and Cr one block each (quantisation 1). Each block holds its
# DC coefficient (the colour) and, for Y, one vertical cosine (light at the top, darker below), so
# a browser scaling it up draws a soft gradient: posters that look like posters, one hue a film.
# The DC Huffman table gives every size category a 4-bit code; the AC table codes end-of-block
# and "one zero, then a value of size s" (the vertical term is the third coefficient in zigzag).
_DC_TABLE = bytes([0, 0, 0, 12] + [0] * 12) + bytes(range(12))
_AC_TABLE = bytes([0, 0, 0, 11] + [0] * 12) + bytes([0x00, *range(0x11, 0x1B)])
_JPEG_HEAD = (
    b"\xff\xd8"
    + b"\xff\xdb\x00\x43\x00" + bytes([1] * 64)
    + b"\xff\xc0\x00\x11\x08\x00\x08\x00\x08\x03" + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    + b"\xff\xc4" + struct.pack(">H", 3 + len(_DC_TABLE)) + b"\x00" + _DC_TABLE
    + b"\xff\xc4" + struct.pack(">H", 3 + len(_AC_TABLE)) + b"\x10" + _AC_TABLE
)
_SCAN_HEADER = b"\xff\xda\x00\x0c\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"
_GRADIENT = 180  # the vertical coefficient of Y: about 30 levels lighter at the top, darker below


def _colour(name: str) -> tuple[int, int, int]:
    """A muted colour derived from the name."""
    digest = hashlib.sha1(name.encode()).digest()
    hue, light, sat = digest[0] / 255, 0.28 + digest[1] / 255 * 0.12, 0.30 + digest[2] / 255 * 0.25
    return tuple(round(c * 255) for c in colorsys.hls_to_rgb(hue, light, sat))  # type: ignore[return-value]


def _magnitude(value: int) -> tuple[int, str]:
    """JPEG's size category of a value and its bits (negatives in ones' complement)."""
    size = abs(value).bit_length()
    return size, format(value if value > 0 else value + (1 << size) - 1, f"0{size}b") if size else ""


def _block_bits(level: float, vertical: int) -> str:
    """One block: the DC of a flat block at ``level``, the vertical term if any, end-of-block."""
    size, bits = _magnitude(8 * (round(level) - 128))
    out = format(size, "04b") + bits
    if vertical:
        size, bits = _magnitude(vertical)
        out += format(size, "04b") + bits  # code of symbol 0x1s is its index in _AC_TABLE: s
    return out + "0000"  # end-of-block (index 0)


def jpeg_bytes(name: str) -> bytes:
    """A valid 8x8 JPEG in a colour of the name's, whose comment segment names the file."""
    r, g, b = _colour(name)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    bits = _block_bits(y, _GRADIENT) + _block_bits(cb, 0) + _block_bits(cr, 0)
    bits += "1" * (-len(bits) % 8)  # the last byte padded with ones
    scan = int(bits, 2).to_bytes(len(bits) // 8, "big").replace(b"\xff", b"\xff\x00")
    comment = f"tracker sandbox image {name} {hashlib.sha1(name.encode()).hexdigest()}".encode()
    return (_JPEG_HEAD + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
            + _SCAN_HEADER + scan + b"\xff\xd9")


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
