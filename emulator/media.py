"""Small media helpers: generate tiny but valid files for simulated users, and sniff what a
bot uploaded (is it really an image, how big is it) the way Telegram's servers would."""

from __future__ import annotations

import struct
import zlib


def tiny_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid, uncompressed-ish RGB PNG of the given size."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes(rgb) * width
    pixels = zlib.compress(row * height)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def tiny_ogg(seconds: int = 1) -> bytes:
    """Bytes that start like an Ogg/Opus voice note; Telegram does not decode voice notes."""
    return b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead" + b"\x00" * (64 * max(seconds, 1))


def tiny_webp() -> bytes:
    """A minimal RIFF/WEBP container, enough to look like a sticker file."""
    body = b"WEBPVP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00" + b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF, JPEG or WEBP image, or None if it is not one of those.

    Telegram rejects photos it cannot decode (IMAGE_PROCESS_FAILED), so the emulator only
    accepts bytes that at least carry a real image header."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return 512, 512
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data) or (100, 100)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None


def extension_for(kind: str, filename: str | None, mime_type: str | None) -> str:
    """A file extension for the download path (Telegram keeps one, e.g. photos/file_3.jpg)."""
    if filename and "." in filename:
        return filename.rsplit(".", 1)[1][:8]
    return {
        "photo": "jpg",
        "voice": "oga",
        "sticker": "webp",
        "video": "mp4",
        "audio": "mp3",
        "animation": "mp4",
    }.get(kind, "bin")
