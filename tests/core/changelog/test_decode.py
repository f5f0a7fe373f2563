"""Bytes to text: BOMs, UTF-16, line ends, legacy encodings, binary files and the size limit."""

from __future__ import annotations

import codecs

import pytest

from core.changelog import decode
from core.errors import NotAChangelog

TEXT = "## 1.0.0 — café\n\n- naïve fix\n"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(TEXT.encode(), id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + TEXT.encode(), id="utf-8-bom"),
        pytest.param(TEXT.encode("utf-16"), id="utf-16-bom"),
        pytest.param(codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), id="utf-16-be-bom"),
        pytest.param(TEXT.encode("utf-16-le"), id="utf-16-le-no-bom"),
        pytest.param(TEXT.encode("utf-16-be"), id="utf-16-be-no-bom"),
        pytest.param(TEXT.encode("utf-32"), id="utf-32-bom"),
        pytest.param(TEXT.replace("\n", "\r\n").encode(), id="crlf"),
        pytest.param(TEXT.replace("\n", "\r").encode(), id="cr"),
    ],
)
def test_decodes_to_the_same_text(raw: bytes) -> None:
    decoded = decode(raw, limit=1_000_000)
    assert (decoded.text, decoded.truncated, decoded.size) == (TEXT, False, len(raw))


def test_latin1_file_falls_back_to_an_8bit_encoding() -> None:
    decoded = decode("## 1.0.0\n\n- caf\xe9 cr\xe8me \xbd\n".encode("latin-1"), limit=1000)
    assert decoded.text == "## 1.0.0\n\n- café crème ½\n"
    assert decoded.encoding == "cp1252"


def test_utf8_with_a_stray_byte_stays_utf8() -> None:
    raw = ("## 1.0.0\n\n" + "- naïve ünïcödé\n" * 20).encode() + b"- bad \xff byte\n"
    decoded = decode(raw, limit=10_000)
    assert decoded.encoding == "utf-8"
    assert "naïve" in decoded.text and "\ufffd" in decoded.text


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100), id="png"),
        pytest.param(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4, id="gzip"),
        pytest.param(bytes(range(1, 9)) * 200, id="control-bytes"),
    ],
)
def test_binary_content_is_refused(raw: bytes) -> None:
    with pytest.raises(NotAChangelog, match="binary"):
        decode(raw, limit=1_000_000)


@pytest.mark.parametrize("raw", [b"", b" \n\t\n", codecs.BOM_UTF8])
def test_empty_content_is_refused(raw: bytes) -> None:
    with pytest.raises(NotAChangelog, match="empty"):
        decode(raw, limit=1000)


def test_fifty_megabytes_are_cut_on_a_line_boundary_and_reported() -> None:
    line = "- a change in 1.2.3 with some words ✓\n"
    raw = ("## 9.9.9\n\n" + line * (50_000_000 // len(line.encode()) + 1)).encode()
    assert len(raw) > 50_000_000
    decoded = decode(raw, limit=5_000_000)
    assert decoded.truncated
    assert decoded.size == len(raw)
    assert len(decoded.text.encode()) <= 5_000_000
    assert decoded.text.startswith("## 9.9.9\n") and decoded.text.endswith(line)


def test_utf16_cut_drops_the_half_character_and_the_partial_line() -> None:
    raw = ("## 1.0.0\n" + "- é\n" * 100).encode("utf-16")
    decoded = decode(raw, limit=101)
    assert decoded.truncated
    assert decoded.text.endswith("\n") and "\ufffd" not in decoded.text
