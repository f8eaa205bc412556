"""Sending short messages (one-time codes today; electronic service later) through one small
interface, :class:`MessageSender`, with three adapters:

- :class:`OutboxSender`: each message is a file in a directory (the default: for development,
  and for courts that read codes out over the phone); :func:`read_outbox` lists them;
- :class:`SmtpSender`: e-mail through an SMTP server;
- :class:`HttpSender`: an SMS gateway's HTTP API (URL, an auth header, a JSON body template).

:class:`RetryingSender` wraps any of them: failed sends are retried with a backoff and the
last failure is raised, never swallowed. Ground floor: imports nothing of ``hearing_server``.
"""

from __future__ import annotations

from .base import Message, MessageSender, Receipt, SendError
from .http import HttpSender, render_template
from .outbox import OutboxEntry, OutboxSender, read_outbox
from .retry import RetryingSender
from .smtp import SmtpSecurity, SmtpSender

__all__ = [
    "HttpSender",
    "Message",
    "MessageSender",
    "OutboxEntry",
    "OutboxSender",
    "Receipt",
    "RetryingSender",
    "SendError",
    "SmtpSecurity",
    "SmtpSender",
    "read_outbox",
    "render_template",
]
