"""The signing steps in a child process, so that pyHanko's CPU work never holds the server's
event loop (bench/esign/loop_lag.py: in a worker thread it delays a 5 ms timer by 11 ms at p95
through the GIL; in a child process by 2 ms, as when idle).

One child, started on first use with ``spawn``; :func:`lifeline.guard` makes it exit within
moments of the server's death, however the server died. The child loads the signing authority
from its directory itself: private keys never cross the process boundary, and each signer's
one-time key is made, used and dropped in the child.
"""

from __future__ import annotations

import asyncio
import datetime
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import lifeline

from .authority import SigningAuthority
from .document import AgreementDocument
from .errors import AuthorityError
from .receipt import ServiceReceipt, seal_receipt
from .render import render
from .signing import certify, seal, sign_as
from .token import TokenKey
from .tsa import make_timestamper


@dataclass(frozen=True)
class AuthorityConfig:
    """How the child finds the signing authority (all picklable)."""

    directory: Path
    organisation: str = "人民调解委员会"
    ca_cert_file: Path | None = None
    ca_key_file: Path | None = None
    timestamp_url: str | None = None
    org_token: TokenKey | None = None

    def load(self) -> SigningAuthority:
        """The authority these settings name (created on first run)."""
        return SigningAuthority.load_or_create(
            self.directory,
            organisation=self.organisation,
            ca_cert_file=self.ca_cert_file,
            ca_key_file=self.ca_key_file,
            org_token=self.org_token,
        )


@dataclass(frozen=True)
class Signer:
    """Who signs: the event certificate's subject and the visible signature's name."""

    name: str
    masked_id: str
    subject_ref: str


_authority: SigningAuthority | None = None  # in the child process only
_timestamp_url: str | None = None


def _child_init(config: AuthorityConfig) -> None:
    global _authority, _timestamp_url
    _authority = config.load()
    _timestamp_url = config.timestamp_url


def _child_authority() -> SigningAuthority:
    if _authority is None:  # pragma: no cover - the initializer always runs first
        raise AuthorityError("no_authority", "the signing worker has no authority")
    return _authority


def _child_certify(document: AgreementDocument) -> bytes:
    authority = _child_authority()
    return certify(render(document), authority, make_timestamper(authority, _timestamp_url))


def _child_sign(
    pdf: bytes, field_name: str, signer: Signer, drawn_png: bytes, when: datetime.datetime
) -> bytes:
    authority = _child_authority()
    credential = authority.issue_event_certificate(
        signer.name, signer.masked_id, signer.subject_ref
    )
    return sign_as(
        pdf,
        field_name,
        credential,
        drawn_png,
        signer.name,
        when,
        make_timestamper(authority, _timestamp_url),
    )


def _child_seal(pdf: bytes, organisation: str | None) -> bytes:
    authority = _child_authority()
    return seal(
        pdf, authority, make_timestamper(authority, _timestamp_url), organisation=organisation
    )


def _child_seal_receipt(receipt: ServiceReceipt, organisation: str | None) -> bytes:
    authority = _child_authority()
    return seal_receipt(
        receipt, authority, make_timestamper(authority, _timestamp_url), organisation=organisation
    )


class SigningWorker:
    """Render-and-certify, sign and seal, one at a time, in a child process.

    Errors of :mod:`esign` (bad image, sealed PDF, ...) come back as themselves. A child that
    died is replaced on the next call; the call that found it dead raises
    :class:`AuthorityError` with code ``worker_died``.
    """

    def __init__(self, config: AuthorityConfig) -> None:
        self._config = config
        self._pool: ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Made in the thread that submits: the child watches this process.
            self._pool = lifeline.guarded_pool("agreement signing", _child_init, (self._config,))
        return self._pool

    async def _run(self, fn: object, *args: object) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            result: bytes = await loop.run_in_executor(self._ensure_pool(), fn, *args)  # type: ignore[arg-type]
        except BrokenProcessPool as exc:
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            raise AuthorityError("worker_died", f"the signing process died: {exc}") from exc
        return result

    async def certify(self, document: AgreementDocument) -> bytes:
        """Render ``document`` and certify it for the organisation (fields for every party)."""
        return await self._run(_child_certify, document)

    async def sign(
        self,
        pdf: bytes,
        field_name: str,
        signer: Signer,
        drawn_png: bytes,
        when: datetime.datetime,
    ) -> bytes:
        """``signer``'s PAdES signature in ``field_name``, with a fresh event certificate."""
        return await self._run(_child_sign, pdf, field_name, signer, drawn_png, when)

    async def seal(self, pdf: bytes, organisation: str | None = None) -> bytes:
        """The organisation's seal: nothing may change after it."""
        return await self._run(_child_seal, pdf, organisation)

    async def seal_receipt(self, receipt: ServiceReceipt, organisation: str | None = None) -> bytes:
        """The service receipt (送达回证), rendered and sealed (no changes after it)."""
        return await self._run(_child_seal_receipt, receipt, organisation)

    async def close(self) -> None:
        """Stop the child (waiting for a step in progress). Idempotent."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: pool.shutdown(wait=True, cancel_futures=True)
            )
