"""The message, the receipt, the error and the sender protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """A short text for one recipient: a phone number or an e-mail address.

    ``key``, when set, names the message for good: a message sent again with the same key is
    a repeat of the first, not a new one (the HTTP sender sends it as ``Idempotency-Key`` and
    ``{key}``, the SMTP sender builds the Message-ID from it).
    """

    recipient: str
    subject: str
    text: str
    key: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a sender reports after handing a message on: which sender, its reference (a file
    name, a message id, the gateway's answer) and how many attempts it took."""

    sender: str
    reference: str
    attempts: int = 1


class SendError(Exception):
    """A message could not be handed on. ``retryable`` is False when trying again cannot help
    (a refused recipient, a bad configuration)."""

    def __init__(self, message: str, *, retryable: bool = True, attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.attempts = attempts


class MessageSender(Protocol):
    """Hands messages on to a delivery channel. ``send`` raises :class:`SendError`."""

    @property
    def name(self) -> str:
        """A short name for logs, receipts and the audit log (``outbox``, ``smtp``, ``http``)."""
        ...

    async def send(self, message: Message) -> Receipt: ...

    async def close(self) -> None:
        """Release connections; idempotent."""
        ...
