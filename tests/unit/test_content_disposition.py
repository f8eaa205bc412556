"""Download names: the transcript's file name carries the Chinese case number."""

from __future__ import annotations

from urllib.parse import unquote

from hearing_server.api.transcripts import attachment


def test_utf8_name_survives_and_ascii_fallback_is_safe() -> None:
    name = 'transcript-_2026_京0105民初12345号".pdf'
    header = attachment(name)
    assert header.isascii()
    assert unquote(header.split("; filename*=UTF-8''")[1], errors="strict") == name
    fallback = header.split(";")[1].strip()
    assert fallback == 'filename="transcript-_2026__0105__12345__.pdf"'
