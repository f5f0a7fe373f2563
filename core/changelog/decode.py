"""A changelog file's bytes as text: byte-order marks, UTF-16/32, Windows line ends, legacy 8-bit encodings.

Binary files are refused rather than turned into noise, and a file over the size limit is cut on a line
boundary and reported as truncated: a 50 MB changelog still gives its newest versions.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from core.errors import NotAChangelog

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SAMPLE = 8192
# C0 controls other than tab, newline, vertical tab, form feed, carriage return and escape.
_CONTROL = bytes(set(range(32)) - {9, 10, 11, 12, 13, 27})


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text (line ends normalised to ``\\n``), whether it was cut at the limit, and the bytes given."""

    text: str
    truncated: bool
    size: int
    encoding: str = "utf-8"


def _sniff(raw: bytes) -> tuple[str, int]:
    """The encoding and the length of its byte-order mark (0 when there is none)."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return encoding, len(bom)
    sample = raw[:_SAMPLE]
    if len(sample) >= 4 and sample.count(0) * 3 >= len(sample):
        # UTF-16 without a BOM: ASCII text leaves every other byte zero.
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > even * 4:
            return "utf-16-le", 0
        if even > odd * 4:
            return "utf-16-be", 0
    return "", 0


def _refuse_binary(raw: bytes) -> None:
    sample = raw[:_SAMPLE]
    if b"\x00" in sample:
        raise NotAChangelog("binary file: it contains NUL bytes")
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    if controls * 20 > len(sample):
        raise NotAChangelog("binary file: too many control bytes")


def _decode_8bit(raw: bytes) -> tuple[str, str]:
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="replace")
    # A UTF-8 file with a few stray bytes stays UTF-8; a Latin-1/Windows-1252 file has invalid bytes everywhere.
    multibyte = sum(1 for ch in text if ord(ch) > 0x7F and ch != "\ufffd")
    if text.count("\ufffd") * 10 <= multibyte:
        return text, "utf-8"
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def decode(raw: bytes, *, limit: int) -> Decoded:
    """Decode a changelog file, reading at most ``limit`` bytes.

    Handles UTF-8 (with or without a BOM), UTF-16 and UTF-32 (with a BOM, or UTF-16 without one), and falls back
    to Windows-1252 / Latin-1 for legacy files. Line ends become ``\\n``. Past ``limit`` the text is cut at the
    last complete line and ``truncated`` is set. Raises ``NotAChangelog`` for binary or empty content.
    """
    size = len(raw)
    encoding, bom = _sniff(raw)
    truncated = size > limit
    head = raw[: max(limit, bom)] if truncated else raw
    if encoding:
        # An incremental decoder drops a character cut in half at the limit instead of failing on it.
        text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head[bom:], final=not truncated)
    else:
        _refuse_binary(head)
        if truncated:
            cut = head.rfind(b"\n")
            head = head[: cut + 1] if cut >= 0 else head
        text, encoding = _decode_8bit(head)
    if "\x00" in text[:_SAMPLE]:
        raise NotAChangelog("binary file: it contains NUL characters")
    if truncated:
        cut = text.rfind("\n")
        text = text[: cut + 1] if cut >= 0 else text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise NotAChangelog("empty file")
    return Decoded(text=text, truncated=truncated, size=size, encoding=encoding)
