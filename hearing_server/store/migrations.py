"""Versioned schema migrations for the SQL store. Append only: never edit a released step."""

from __future__ import annotations

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE hearings (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            case_number TEXT NOT NULL,
            court TEXT NOT NULL,
            title TEXT NOT NULL,
            scheduled_start TEXT NOT NULL,
            scheduled_end TEXT NOT NULL,
            visibility TEXT NOT NULL,
            state TEXT NOT NULL,
            actual_start TEXT,
            actual_end TEXT,
            next_sitting_id TEXT,
            created_at TEXT,
            layout TEXT NOT NULL,
            extra TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX hearings_state ON hearings(state, scheduled_start);
        CREATE TABLE participants (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            role TEXT NOT NULL,
            display_name TEXT NOT NULL,
            state TEXT NOT NULL,
            side TEXT,
            represents TEXT,
            interprets_for TEXT,
            language TEXT,
            resume_state TEXT,
            audio_muted INTEGER NOT NULL DEFAULT 0,
            mute_locked INTEGER NOT NULL DEFAULT 0,
            hand_raised INTEGER NOT NULL DEFAULT 0,
            removed INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX participants_hearing ON participants(hearing_id);
        CREATE TABLE audit_log (
            hearing_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            event TEXT NOT NULL,
            data TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            PRIMARY KEY (hearing_id, seq)
        );
        CREATE TABLE revoked_tokens (
            jti TEXT PRIMARY KEY,
            expires_at TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        """
        CREATE TABLE transcript_log (
            hearing_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            event TEXT NOT NULL,
            data TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            PRIMARY KEY (hearing_id, seq)
        );
        CREATE TRIGGER transcript_log_no_update BEFORE UPDATE ON transcript_log
        BEGIN SELECT RAISE(ABORT, 'the transcript is append-only'); END;
        CREATE TRIGGER transcript_log_no_delete BEFORE DELETE ON transcript_log
        BEGIN SELECT RAISE(ABORT, 'the transcript is append-only'); END;
        """,
    ),
    (
        3,
        """
        CREATE TABLE identity_policies (
            hearing_id TEXT PRIMARY KEY REFERENCES hearings(id),
            policy TEXT NOT NULL
        );
        CREATE TABLE identity_registrations (
            participant_id TEXT PRIMARY KEY REFERENCES participants(id),
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            legal_name TEXT NOT NULL,
            id_type TEXT NOT NULL,
            id_digest TEXT NOT NULL,
            id_last4 TEXT NOT NULL,
            phone TEXT NOT NULL,
            email TEXT,
            registered_at TEXT NOT NULL,
            registered_by TEXT NOT NULL
        );
        CREATE TABLE identity_status (
            participant_id TEXT PRIMARY KEY REFERENCES participants(id),
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            data TEXT NOT NULL
        );
        CREATE INDEX identity_status_hearing ON identity_status(hearing_id);
        """,
    ),
)
