"""The signaling protocol: event names and payload schemas (documented in docs/protocol.md)."""

from __future__ import annotations

from hearing_server.core.hearing import HearingAction
from hearing_server.schema import Field, Schema
from hearing_server.service.hearings import LAYOUTS

PROTOCOL_VERSION = 1
NAMESPACE = "/hearing"
MAX_SDP = 64 * 1024

_PID = Field("participant_id", "string", max_length=64)

# Client -> server events and their payloads.
CLIENT_EVENTS: dict[str, Schema] = {
    "join": Schema("join", (Field("protocol", "integer"),)),
    "leave": Schema("leave", ()),
    "publish_offer": Schema(
        "publish_offer",
        (
            Field("type", "enum", enum=("offer",)),
            Field("sdp", "string", max_length=MAX_SDP, multiline=True),
        ),
    ),
    "subscribe_answer": Schema(
        "subscribe_answer",
        (
            Field("type", "enum", enum=("answer",)),
            Field("sdp", "string", max_length=MAX_SDP, multiline=True),
            Field("revision", "integer"),
        ),
    ),
    "resubscribe": Schema(
        "resubscribe", (Field("restart", "boolean", required=False, nullable=True),)
    ),
    "admit": Schema("admit", (_PID,)),
    "return_to_waiting": Schema("return_to_waiting", (_PID,)),
    "remove": Schema("remove", (_PID,)),
    "mute": Schema(
        "mute",
        (_PID, Field("muted", "boolean"), Field("lock", "boolean", required=False, nullable=True)),
    ),
    "raise_hand": Schema("raise_hand", (Field("raised", "boolean"),)),
    "hearing_action": Schema(
        "hearing_action",
        (
            Field("action", "enum", enum=tuple(a.value for a in HearingAction)),
            Field("next_sitting_id", "string", required=False, nullable=True, max_length=64),
        ),
    ),
    "set_layout": Schema("set_layout", (Field("layout", "enum", enum=LAYOUTS),)),
    "recording": Schema(
        "recording", (Field("action", "enum", enum=("start", "pause", "resume", "stop")),)
    ),
}

# Server -> client events.
SERVER_EVENTS = (
    "hearing_state",  # the hearing changed (state, layout, times)
    "participant_updated",  # someone changed (full state for judge/clerk, identity for others)
    "me_updated",  # your own state, room, mute or hand changed
    "subscriber_offer",  # {type: "offer", sdp, revision, restart}: answer with subscribe_answer
    "track_published",  # {participant_id, kind, track_id, codec}
    "track_unpublished",  # {participant_id, kind, track_id}
    "removed",  # you were removed; the server disconnects you
    "replaced",  # you joined again elsewhere; this connection is closed
    "caption",  # to those in the hearing room: {participant_id, name, role, text, final, late, ...}
    "recording_state",  # {state, recording_id?}: everyone knows whether they are recorded
    "recording_alert",  # judge, clerk, mediator: a recording failed or recovered
    "error",  # {code, message, event}
)
