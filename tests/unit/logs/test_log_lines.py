"""Log lines carry the request or event they belong to; the JSON form is one object a line."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from hearing_server.logs import (
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    configure_logging,
    current_request_id,
    request_context,
    request_id_from,
)


def _record(msg: str = "hello %s", *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord(
        "hearing_server.x", logging.WARNING, __file__, 1, msg, args or ("法庭",), exc_info
    )


def test_a_given_id_is_kept_only_when_it_is_a_plain_token() -> None:
    assert request_id_from("court-42.a_b:c") == "court-42.a_b:c"
    for bad in (None, "", "a b", "x" * 65, "abc\nForged: line", "<script>"):
        made = request_id_from(bad)
        assert made != bad and len(made) == 16 and int(made, 16) >= 0


def test_lines_inside_a_request_carry_its_id_and_tasks_started_there_too() -> None:
    seen: list[str | None] = []

    async def work() -> None:
        seen.append(current_request_id())

    async def main() -> None:
        with request_context("req-1"):
            record = _record()
            RequestIdFilter().filter(record)
            assert record.request_id == "req-1"  # type: ignore[attr-defined]
            await asyncio.create_task(work())
        outside = _record()
        RequestIdFilter().filter(outside)
        assert outside.request_id is None  # type: ignore[attr-defined]

    asyncio.run(main())
    assert seen == ["req-1"]


def test_the_text_line_ends_with_the_id_before_any_traceback() -> None:
    record = _record(exc=True)
    record.request_id = "req-7"
    line = TextFormatter().format(record)
    first, _, rest = line.partition("\n")
    assert first.endswith("WARNING hearing_server.x: hello 法庭 [request req-7]")
    assert "ValueError: boom" in rest
    plain = _record()
    plain.request_id = None
    assert TextFormatter("w2 ").format(plain).endswith("w2 WARNING hearing_server.x: hello 法庭")


def test_the_json_line_is_one_object_with_its_fields() -> None:
    record = _record(exc=True)
    record.request_id = "req-9"
    line = JsonFormatter(worker="1").format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "WARNING" and data["logger"] == "hearing_server.x"
    assert data["message"] == "hello 法庭" and data["request_id"] == "req-9"
    assert data["worker"] == "1" and "ValueError: boom" in data["exception"]
    assert data["time"].endswith("+00:00")


def test_logging_set_up_before_is_kept_and_gains_the_ids() -> None:
    """As logging.basicConfig: a host that set up logging (a test runner) keeps its handlers,
    which only gain the request ids."""
    root = logging.getLogger()
    mine = logging.StreamHandler()
    saved = root.handlers[:]
    root.handlers[:] = [mine]
    try:
        configure_logging("INFO", "json")
        assert root.handlers == [mine]
        assert any(isinstance(f, RequestIdFilter) for f in mine.filters)
    finally:
        root.handlers[:] = saved
