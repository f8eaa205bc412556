"""How a track recorder tells others: manifest entries and alerts about one track.

A failure to write the manifest or deliver an alert becomes an alert (or a log line) here,
never an exception, because the recorder must keep recording whatever its reports do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .alerts import AlertKind, RecordingAlert
from .manifest import AfterWriteError, EntryType, ManifestError, ManifestWriter, SignatureError
from .model import TrackIdentity

log = logging.getLogger(__name__)


class TrackReporter:
    """Manifest entries and alerts of one recorded track.

    ``emit`` may be called from the recorder's thread and from the event loop (a full
    queue is alerted on the loop side), so it must be thread-safe (the session wraps it).
    """

    def __init__(
        self,
        identity: TrackIdentity,
        manifest: ManifestWriter,
        emit: Callable[[RecordingAlert], None],
    ) -> None:
        self.identity = identity
        self._manifest = manifest
        self._emit = emit

    def append(
        self,
        entry_type: EntryType,
        data: dict[str, Any],
        after: Callable[[], None] | None = None,
    ) -> None:
        try:
            recovered = self._manifest.append(entry_type, data, after=after)
        except ManifestError as exc:
            self.alert(
                AlertKind.MANIFEST_FAILED,
                "The recording's manifest cannot be written; entries are kept and will be "
                f"written when possible: {exc}",
                error=str(exc),
                track=None,
                pid=None,
            )
        except AfterWriteError as exc:
            self.alert(
                AlertKind.WRITE_FAILED,
                f"A finished segment of {self.who()} could not be renamed: {exc}",
                error=str(exc),
            )
        except SignatureError as exc:
            self.alert(AlertKind.SIGN_FAILED, f"Checkpoint signature failed: {exc}", error=str(exc))
        else:
            if recovered:
                self.alert(
                    AlertKind.RECOVERED,
                    "The recording's manifest can be written again; no entry was lost.",
                    track=None,
                    pid=None,
                )

    def track_data(self) -> dict[str, Any]:
        """The fields that name the track in each of its manifest entries."""
        ident = self.identity
        return {
            "track": ident.key,
            "pid": ident.pid,
            "kind": ident.kind,
            "name": ident.name,
            "role": ident.role,
        }

    def who(self) -> str:
        """The track as people name it, for alert messages."""
        ident = self.identity
        if ident.kind == "composite":
            return "the courtroom composite"
        return f"{ident.name} ({ident.role}, {ident.kind})"

    def alert(self, kind: AlertKind, message: str, **fields: Any) -> None:
        alert = RecordingAlert(
            kind=kind,
            hearing_id=self._manifest.hearing_id,
            recording_id=self._manifest.recording_id,
            message=message,
            at=datetime.now(UTC),
            **{"track": self.identity.key, "pid": self.identity.pid, **fields},
        )
        try:
            self._emit(alert)
        except Exception:
            log.exception("recorder %s: cannot deliver alert %s", self.identity.key, kind)
