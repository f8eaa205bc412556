"""Signaling protocol constants shared by the server and the Python client.

The payload schemas of client events live with the server (hearing_server.signaling.messages);
the protocol itself is documented in docs/protocol.md.
"""

from __future__ import annotations

PROTOCOL_VERSION = 1
NAMESPACE = "/hearing"
MAX_SDP = 64 * 1024

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
    "livestream_state",  # {state, delay_seconds?, viewers?}: everyone knows if they are broadcast
    "rooms_updated",  # {reason, rooms}: a caucus opened, closed, changed or its timer ran out
    "consultation",  # {status, request, by?, room_id?}: a consultation asked for or answered
    "agreement_updated",  # the mediation agreement changed (a draft only to the mediator)
    "server_load",  # judge, clerk, mediator: the server sheds load (video first) or stopped
    "error",  # {code, message, event}
)
