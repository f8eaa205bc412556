"""Versioned schema migrations for the SQL stores. Append only: never edit a released step.

One list for both dialects: each step has a version and its SQL for SQLite and for PostgreSQL,
so the two schemas move together and ``schema_migrations`` means the same thing in both. The
PostgreSQL form differs where the dialects do: real timestamps and booleans, an identity column
where SQLite orders by ``rowid``, ``COLLATE "C"`` on the text keys that are sorted (so that
ordering is by code point, as in SQLite, whatever the database's locale), and PL/pgSQL trigger
functions (which also refuse ``TRUNCATE``, which SQLite does not have).

The chain tables keep ``at`` and ``data`` as text in both: they are the hashed record and must
read back byte for byte (``jsonb`` would reorder keys and renormalise numbers).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version (1, 2, ... in order) and its SQL in each dialect."""

    version: int
    sqlite: str
    postgresql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        sqlite="""
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
        postgresql="""
        CREATE TABLE hearings (
            id TEXT COLLATE "C" PRIMARY KEY,
            kind TEXT NOT NULL,
            case_number TEXT NOT NULL,
            court TEXT NOT NULL,
            title TEXT NOT NULL,
            scheduled_start TIMESTAMPTZ NOT NULL,
            scheduled_end TIMESTAMPTZ NOT NULL,
            visibility TEXT NOT NULL,
            state TEXT NOT NULL,
            actual_start TIMESTAMPTZ,
            actual_end TIMESTAMPTZ,
            next_sitting_id TEXT,
            created_at TIMESTAMPTZ,
            layout TEXT NOT NULL,
            extra TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX hearings_state ON hearings(state, scheduled_start);
        CREATE TABLE participants (
            id TEXT PRIMARY KEY,
            -- insertion order, which SQLite keeps in rowid: participants are listed in it
            position BIGINT GENERATED ALWAYS AS IDENTITY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            role TEXT NOT NULL,
            display_name TEXT NOT NULL,
            state TEXT NOT NULL,
            side TEXT,
            represents TEXT,
            interprets_for TEXT,
            language TEXT,
            resume_state TEXT,
            audio_muted BOOLEAN NOT NULL DEFAULT FALSE,
            mute_locked BOOLEAN NOT NULL DEFAULT FALSE,
            hand_raised BOOLEAN NOT NULL DEFAULT FALSE,
            removed BOOLEAN NOT NULL DEFAULT FALSE
        );
        CREATE INDEX participants_hearing ON participants(hearing_id, position);
        CREATE TABLE audit_log (
            hearing_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
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
            expires_at TIMESTAMPTZ NOT NULL
        );
        """,
    ),
    Migration(
        2,
        sqlite="""
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
        postgresql="""
        CREATE TABLE transcript_log (
            hearing_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            event TEXT NOT NULL,
            data TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            PRIMARY KEY (hearing_id, seq)
        );
        -- One function for every append-only table; the trigger passes the message.
        CREATE FUNCTION refuse_append_only_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
        END;
        $$;
        CREATE TRIGGER transcript_log_no_update BEFORE UPDATE ON transcript_log
        FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change('the transcript is append-only');
        CREATE TRIGGER transcript_log_no_delete BEFORE DELETE ON transcript_log
        FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change('the transcript is append-only');
        -- TRUNCATE fires no row trigger: refuse it for the whole statement.
        CREATE TRIGGER transcript_log_no_truncate BEFORE TRUNCATE ON transcript_log
        FOR EACH STATEMENT
        EXECUTE FUNCTION refuse_append_only_change('the transcript is append-only');
        """,
    ),
    Migration(
        3,
        # The audit log was append-only by the code alone; the database now refuses too, as it
        # does for the transcript. Nothing of ours ever updates or deletes an audit entry.
        sqlite="""
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
        postgresql="""
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change('the audit log is append-only');
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change('the audit log is append-only');
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT
        EXECUTE FUNCTION refuse_append_only_change('the audit log is append-only');
        """,
    ),
    Migration(
        4,
        # Identity checks: only keyed digests of ID numbers and codes are ever stored. The
        # PostgreSQL tables number their rows, where SQLite lists them by rowid.
        sqlite="""
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
        postgresql="""
        CREATE TABLE identity_policies (
            hearing_id TEXT PRIMARY KEY REFERENCES hearings(id),
            policy TEXT NOT NULL
        );
        CREATE TABLE identity_registrations (
            ord BIGINT GENERATED ALWAYS AS IDENTITY,
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
            ord BIGINT GENERATED ALWAYS AS IDENTITY,
            participant_id TEXT PRIMARY KEY REFERENCES participants(id),
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            data TEXT NOT NULL
        );
        CREATE INDEX identity_status_hearing ON identity_status(hearing_id);
        """,
    ),
    Migration(
        5,
        # Mediation agreements: the current state as one JSON document, changed by
        # compare-and-set on its revision, and every saved draft version, never changed.
        sqlite="""
        CREATE TABLE agreements (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL UNIQUE REFERENCES hearings(id),
            revision INTEGER NOT NULL,
            data TEXT NOT NULL
        );
        CREATE TABLE agreement_versions (
            agreement_id TEXT NOT NULL REFERENCES agreements(id),
            number INTEGER NOT NULL,
            content TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            PRIMARY KEY (agreement_id, number)
        );
        CREATE TRIGGER agreement_versions_no_update BEFORE UPDATE ON agreement_versions
        BEGIN SELECT RAISE(ABORT, 'agreement versions are append-only'); END;
        CREATE TRIGGER agreement_versions_no_delete BEFORE DELETE ON agreement_versions
        BEGIN SELECT RAISE(ABORT, 'agreement versions are append-only'); END;
        """,
        postgresql="""
        CREATE TABLE agreements (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL UNIQUE REFERENCES hearings(id),
            revision BIGINT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE TABLE agreement_versions (
            agreement_id TEXT NOT NULL REFERENCES agreements(id),
            number BIGINT NOT NULL,
            content TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            PRIMARY KEY (agreement_id, number)
        );
        CREATE TRIGGER agreement_versions_no_update BEFORE UPDATE ON agreement_versions
        FOR EACH ROW
        EXECUTE FUNCTION refuse_append_only_change('agreement versions are append-only');
        CREATE TRIGGER agreement_versions_no_delete BEFORE DELETE ON agreement_versions
        FOR EACH ROW
        EXECUTE FUNCTION refuse_append_only_change('agreement versions are append-only');
        """,
    ),
    Migration(
        6,
        # When a hand went up: the presiding judge's queue is in arrival order.
        sqlite="ALTER TABLE participants ADD COLUMN hand_raised_at TEXT;",
        postgresql="ALTER TABLE participants ADD COLUMN hand_raised_at TIMESTAMPTZ;",
    ),
    Migration(
        7,
        # When a witness or expert gave the undertaking to tell the truth.
        sqlite="ALTER TABLE participants ADD COLUMN sworn_at TEXT;",
        postgresql="ALTER TABLE participants ADD COLUMN sworn_at TIMESTAMPTZ;",
    ),
    Migration(
        8,
        # Notices in a hearing (issue 14) and each recipient's receipt.
        sqlite="""
        CREATE TABLE hearing_notices (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            sender_id TEXT NOT NULL,
            audience TEXT NOT NULL,
            target TEXT,
            template TEXT,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX hearing_notices_by_hearing ON hearing_notices (hearing_id, created_at);
        CREATE TABLE notice_receipts (
            notice_id TEXT NOT NULL REFERENCES hearing_notices(id),
            participant_id TEXT NOT NULL,
            delivered_at TEXT,
            read_at TEXT,
            PRIMARY KEY (notice_id, participant_id)
        );
        CREATE INDEX notice_receipts_by_participant ON notice_receipts (participant_id);
        """,
        postgresql="""
        CREATE TABLE hearing_notices (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            sender_id TEXT NOT NULL,
            audience TEXT NOT NULL,
            target TEXT,
            template TEXT,
            text TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX hearing_notices_by_hearing ON hearing_notices (hearing_id, created_at);
        CREATE TABLE notice_receipts (
            notice_id TEXT NOT NULL REFERENCES hearing_notices(id),
            participant_id TEXT NOT NULL,
            delivered_at TIMESTAMPTZ,
            read_at TIMESTAMPTZ,
            PRIMARY KEY (notice_id, participant_id)
        );
        CREATE INDEX notice_receipts_by_participant ON notice_receipts (participant_id);
        """,
    ),
    Migration(
        9,
        # Evidence (issue 26): exhibits, sealed when stored (only the release, first
        # presentation and supersession times are ever set afterwards), and the opinions on
        # them, append-only.
        sqlite="""
        CREATE TABLE exhibits (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            side TEXT NOT NULL,
            number INTEGER NOT NULL,
            version INTEGER NOT NULL,
            title TEXT NOT NULL,
            purpose TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            file_id TEXT NOT NULL,
            filename TEXT NOT NULL,
            uploaded_by TEXT NOT NULL,
            uploaded_at TEXT NOT NULL,
            supersedes TEXT REFERENCES exhibits(id),
            superseded_by TEXT,
            released_at TEXT,
            presented_at TEXT,
            pages INTEGER,
            UNIQUE (hearing_id, side, number, version)
        );
        CREATE INDEX exhibits_by_hearing ON exhibits (hearing_id, side, number, version);
        CREATE TRIGGER exhibits_sealed BEFORE UPDATE OF
            id, hearing_id, side, number, version, title, purpose, media_type, size, sha256,
            file_id, filename, uploaded_by, uploaded_at, supersedes
        ON exhibits
        BEGIN SELECT RAISE(ABORT, 'an exhibit is sealed'); END;
        CREATE TRIGGER exhibits_no_delete BEFORE DELETE ON exhibits
        BEGIN SELECT RAISE(ABORT, 'an exhibit is sealed'); END;
        CREATE TABLE exhibit_opinions (
            id TEXT PRIMARY KEY,
            exhibit_id TEXT NOT NULL REFERENCES exhibits(id),
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            by_side TEXT NOT NULL,
            authenticity TEXT,
            legality TEXT,
            relevance TEXT,
            text TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX exhibit_opinions_by_hearing ON exhibit_opinions (hearing_id, recorded_at);
        CREATE TRIGGER exhibit_opinions_no_update BEFORE UPDATE ON exhibit_opinions
        BEGIN SELECT RAISE(ABORT, 'opinions are append-only'); END;
        CREATE TRIGGER exhibit_opinions_no_delete BEFORE DELETE ON exhibit_opinions
        BEGIN SELECT RAISE(ABORT, 'opinions are append-only'); END;
        """,
        postgresql="""
        CREATE TABLE exhibits (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            side TEXT NOT NULL,
            number BIGINT NOT NULL,
            version BIGINT NOT NULL,
            title TEXT NOT NULL,
            purpose TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size BIGINT NOT NULL,
            sha256 TEXT NOT NULL,
            file_id TEXT NOT NULL,
            filename TEXT NOT NULL,
            uploaded_by TEXT NOT NULL,
            uploaded_at TIMESTAMPTZ NOT NULL,
            supersedes TEXT REFERENCES exhibits(id),
            superseded_by TEXT,
            released_at TIMESTAMPTZ,
            presented_at TIMESTAMPTZ,
            pages BIGINT,
            UNIQUE (hearing_id, side, number, version)
        );
        CREATE INDEX exhibits_by_hearing ON exhibits (hearing_id, side, number, version);
        CREATE TRIGGER exhibits_sealed BEFORE UPDATE OF
            id, hearing_id, side, number, version, title, purpose, media_type, size, sha256,
            file_id, filename, uploaded_by, uploaded_at, supersedes
        ON exhibits
        FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change('an exhibit is sealed');
        CREATE TRIGGER exhibits_no_delete BEFORE DELETE ON exhibits
        FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change('an exhibit is sealed');
        CREATE TABLE exhibit_opinions (
            id TEXT PRIMARY KEY,
            exhibit_id TEXT NOT NULL REFERENCES exhibits(id),
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            by_side TEXT NOT NULL,
            authenticity TEXT,
            legality TEXT,
            relevance TEXT,
            text TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            recorded_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX exhibit_opinions_by_hearing ON exhibit_opinions (hearing_id, recorded_at);
        CREATE TRIGGER exhibit_opinions_no_update BEFORE UPDATE ON exhibit_opinions
        FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change('opinions are append-only');
        CREATE TRIGGER exhibit_opinions_no_delete BEFORE DELETE ON exhibit_opinions
        FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change('opinions are append-only');
        """,
    ),
    Migration(
        10,
        # The durable job queue (issue 17): messages to send, retries, reminders. Times in
        # SQLite are written with microseconds always, so text order is time order.
        sqlite="""
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            job_key TEXT UNIQUE,
            payload TEXT NOT NULL,
            state TEXT NOT NULL,
            due_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            last_error TEXT,
            locked_by TEXT,
            locked_until TEXT,
            finished_at TEXT
        );
        CREATE INDEX jobs_due ON jobs (state, due_at);
        CREATE INDEX jobs_leases ON jobs (state, locked_until);
        CREATE INDEX jobs_created ON jobs (created_at);
        """,
        postgresql="""
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            job_key TEXT UNIQUE,
            payload TEXT NOT NULL,
            state TEXT NOT NULL,
            due_at TIMESTAMPTZ NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            last_error TEXT,
            locked_by TEXT,
            locked_until TIMESTAMPTZ,
            finished_at TIMESTAMPTZ
        );
        CREATE INDEX jobs_due ON jobs (due_at) WHERE state = 'pending';
        CREATE INDEX jobs_leases ON jobs (locked_until) WHERE state = 'running';
        CREATE INDEX jobs_created ON jobs (created_at);
        """,
    ),
    Migration(
        11,
        # Electronic service (issue 17): documents served and each recipient's delivery by
        # each channel, with the hash of its tracking link's token.
        sqlite="""
        CREATE TABLE served_documents (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX served_documents_by_hearing ON served_documents (hearing_id, created_at);
        CREATE TABLE deliveries (
            id TEXT PRIMARY KEY,
            document_id TEXT NOT NULL REFERENCES served_documents(id),
            hearing_id TEXT NOT NULL,
            recipient TEXT NOT NULL,
            participant_id TEXT,
            channel TEXT NOT NULL,
            address TEXT NOT NULL,
            token_hash TEXT UNIQUE,
            expires_at TEXT,
            status TEXT NOT NULL,
            queued_at TEXT NOT NULL,
            sent_at TEXT,
            delivered_at TEXT,
            opened_at TEXT,
            confirmed_at TEXT,
            failed_at TEXT,
            failure TEXT,
            gateway_ref TEXT,
            note TEXT,
            recorded_by TEXT
        );
        CREATE INDEX deliveries_by_hearing ON deliveries (hearing_id, queued_at);
        CREATE INDEX deliveries_by_document ON deliveries (document_id);
        CREATE INDEX deliveries_by_status ON deliveries (status, queued_at);
        """,
        postgresql="""
        CREATE TABLE served_documents (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX served_documents_by_hearing ON served_documents (hearing_id, created_at);
        CREATE TABLE deliveries (
            id TEXT PRIMARY KEY,
            document_id TEXT NOT NULL REFERENCES served_documents(id),
            hearing_id TEXT NOT NULL,
            recipient TEXT NOT NULL,
            participant_id TEXT,
            channel TEXT NOT NULL,
            address TEXT NOT NULL,
            token_hash TEXT UNIQUE,
            expires_at TIMESTAMPTZ,
            status TEXT NOT NULL,
            queued_at TIMESTAMPTZ NOT NULL,
            sent_at TIMESTAMPTZ,
            delivered_at TIMESTAMPTZ,
            opened_at TIMESTAMPTZ,
            confirmed_at TIMESTAMPTZ,
            failed_at TIMESTAMPTZ,
            failure TEXT,
            gateway_ref TEXT,
            note TEXT,
            recorded_by TEXT
        );
        CREATE INDEX deliveries_by_hearing ON deliveries (hearing_id, queued_at);
        CREATE INDEX deliveries_by_document ON deliveries (document_id);
        CREATE INDEX deliveries_by_status ON deliveries (status, queued_at);
        """,
    ),
    Migration(
        12,
        # Scheduling (issue 17): each hearing's booking (time, courtroom, the people who must
        # attend, as JSON), and a served recipient's own time zone.
        sqlite="""
        CREATE TABLE schedule_bookings (
            hearing_id TEXT PRIMARY KEY REFERENCES hearings(id),
            kind TEXT NOT NULL,
            start_at TEXT NOT NULL,
            end_at TEXT NOT NULL,
            courtroom TEXT,
            people TEXT NOT NULL,
            status TEXT NOT NULL,
            revision INTEGER NOT NULL,
            reason TEXT,
            override TEXT,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX schedule_bookings_time ON schedule_bookings (status, start_at);
        ALTER TABLE deliveries ADD COLUMN time_zone TEXT;
        """,
        postgresql="""
        CREATE TABLE schedule_bookings (
            hearing_id TEXT PRIMARY KEY REFERENCES hearings(id),
            kind TEXT NOT NULL,
            start_at TIMESTAMPTZ NOT NULL,
            end_at TIMESTAMPTZ NOT NULL,
            courtroom TEXT,
            people TEXT NOT NULL,
            status TEXT NOT NULL,
            revision INTEGER NOT NULL,
            reason TEXT,
            override TEXT,
            updated_by TEXT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX schedule_bookings_time ON schedule_bookings (status, start_at);
        ALTER TABLE deliveries ADD COLUMN time_zone TEXT;
        """,
    ),
    Migration(
        13,
        # Mediators' after-hours windows, and the links a party picks a slot from (issue 17):
        # the link's token is never stored, only its hash.
        sqlite="""
        CREATE TABLE mediator_windows (
            id TEXT PRIMARY KEY,
            mediator_key TEXT NOT NULL,
            mediator_name TEXT NOT NULL,
            start_at TEXT NOT NULL,
            end_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX mediator_windows_time ON mediator_windows (mediator_key, start_at);
        CREATE TABLE slot_links (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            token_hash TEXT NOT NULL UNIQUE,
            data TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            picked_at TEXT,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX slot_links_by_hearing ON slot_links (hearing_id);
        """,
        postgresql="""
        CREATE TABLE mediator_windows (
            id TEXT PRIMARY KEY,
            mediator_key TEXT NOT NULL,
            mediator_name TEXT NOT NULL,
            start_at TIMESTAMPTZ NOT NULL,
            end_at TIMESTAMPTZ NOT NULL,
            created_by TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX mediator_windows_time ON mediator_windows (mediator_key, start_at);
        CREATE TABLE slot_links (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            token_hash TEXT NOT NULL UNIQUE,
            data TEXT NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            picked_at TIMESTAMPTZ,
            created_by TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX slot_links_by_hearing ON slot_links (hearing_id);
        """,
    ),
)
