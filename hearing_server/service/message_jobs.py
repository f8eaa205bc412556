"""Messages sent through the job queue: stored first, sent by the runner, retried with backoff
across restarts (unlike the one-time codes, which are sent while the person waits).

The job's id is the message's idempotency key, so a send repeated after a crash carries the
key of the first (see :mod:`hearing_server.core.jobs`).
"""

from __future__ import annotations

from typing import Any

from hearing_server.core.errors import ValidationError
from hearing_server.core.jobs import Job
from messaging import Message, MessageSender, SendError

from .jobs import Handler, JobError

MESSAGE_JOB = "message.send"
"""The kind of the jobs that send one message."""

MAX_MESSAGE_TEXT = 4000


def message_payload(recipient: str, subject: str, text: str) -> dict[str, Any]:
    """The payload of a message job, checked: a recipient, a subject and a text of sane
    sizes. Raises ``ValidationError``."""
    if not recipient.strip() or len(recipient) > 320:
        raise ValidationError("a message needs a recipient of at most 320 characters")
    if len(subject) > 200:
        raise ValidationError("a message's subject is at most 200 characters")
    if not text.strip() or len(text) > MAX_MESSAGE_TEXT:
        raise ValidationError(f"a message needs a text of at most {MAX_MESSAGE_TEXT} characters")
    return {"recipient": recipient.strip(), "subject": subject, "text": text}


def message_handler(sender: MessageSender) -> Handler:
    """The handler of :data:`MESSAGE_JOB` jobs: sends the payload's message with ``sender``."""

    async def send(job: Job) -> None:
        try:
            message = Message(
                recipient=str(job.payload["recipient"]),
                subject=str(job.payload.get("subject", "")),
                text=str(job.payload["text"]),
                key=job.id,
            )
        except KeyError as exc:
            raise JobError(f"the message job has no {exc}", retryable=False) from None
        try:
            await sender.send(message)
        except SendError as exc:
            raise JobError(f"{sender.name}: {exc.message}", retryable=exc.retryable) from exc

    return send
