"""Client -> server signaling events and their payload schemas (docs/protocol.md)."""

from __future__ import annotations

from hearing_server.core.hearing import LAYOUTS, HearingAction
from hearing_server.core.notices import MAX_TEXT, TEMPLATES, Audience
from hearing_server.core.participant import PartySide
from hearing_server.schema import Field, Schema
from signaling.protocol import MAX_SDP

_PID = Field("participant_id", "string", max_length=64)
_ROOM = Field("room_id", "string", max_length=64)

# Client -> server events and their payloads.
CLIENT_EVENTS: dict[str, Schema] = {
    "join": Schema("join", (Field("protocol", "integer"),)),
    "leave": Schema("leave", ()),
    "publish_offer": Schema(
        "publish_offer",
        (
            Field("type", "enum", enum=("offer",)),
            Field("sdp", "string", max_length=MAX_SDP, multiline=True),
            # the new video section that carries a shared screen (docs/evidence.md)
            Field("screen_mid", "string", max_length=32, required=False, nullable=True),
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
    "lower_hand": Schema("lower_hand", (_PID,)),
    "take_oath": Schema("take_oath", ()),
    # The client's own connection health, sent when it changes (the clerk's board shows it).
    "network_report": Schema(
        "network_report",
        (
            Field("grade", "enum", enum=("good", "poor", "bad")),
            Field("loss_pct", "integer", required=False, nullable=True),
            Field("rtt_ms", "integer", required=False, nullable=True),
        ),
    ),
    "send_notice": Schema(
        "send_notice",
        (
            Field("audience", "enum", enum=tuple(a.value for a in Audience)),
            Field("target", "string", max_length=64, required=False, nullable=True),
            Field("template", "enum", enum=tuple(TEMPLATES), required=False, nullable=True),
            Field("text", "string", max_length=MAX_TEXT, required=False, nullable=True),
        ),
    ),
    "notice_receipt": Schema(
        "notice_receipt",
        (
            Field("notice_id", "string", max_length=64),
            Field("status", "enum", enum=("delivered", "read")),
        ),
    ),
    "dismiss_witness": Schema(
        "dismiss_witness", (_PID, Field("to", "enum", enum=("waiting", "out")))
    ),
    "grant_floor": Schema("grant_floor", (_PID,)),
    # evidence on every screen (docs/evidence.md "Presenting")
    "present": Schema(
        "present",
        (
            Field("exhibit_id", "string", max_length=64),
            Field("page", "integer", required=False, nullable=True),
        ),
    ),
    "presentation_move": Schema(
        "presentation_move",
        (
            Field("page", "integer", required=False),
            Field("zoom", "number", required=False),
            Field("center", "point", required=False),
            Field("pointer", "point", required=False, nullable=True),
            Field("playing", "boolean", required=False),
            Field("position_s", "number", required=False),
        ),
    ),
    "stop_presenting": Schema("stop_presenting", ()),
    "present_screen": Schema("present_screen", ()),
    "grant_presenting": Schema(
        "grant_presenting", (Field("participant_id", "string", max_length=64, nullable=True),)
    ),
    "spotlight": Schema(
        "spotlight", (Field("participant_id", "string", max_length=64, nullable=True),)
    ),
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
    "livestream": Schema(
        "livestream",
        (
            Field(
                "action",
                "enum",
                enum=("start", "cut", "resume", "stop", "allow_replay", "withdraw_replay"),
            ),
            Field("delay_seconds", "integer", required=False, nullable=True),
        ),
    ),
    "verify_identity": Schema("verify_identity", (_PID, Field("reason", "string", max_length=500))),
    "waive_identity": Schema("waive_identity", (_PID, Field("reason", "string", max_length=500))),
    # Caucus rooms (mediation): the mediator opens one with a side, moves between the rooms
    # ("hearing" is the joint session), sets an advisory timer and closes it.
    "open_caucus": Schema(
        "open_caucus",
        (
            Field("side", "enum", enum=tuple(s.value for s in PartySide)),
            Field("timer_minutes", "integer", required=False, nullable=True),
        ),
    ),
    "enter_room": Schema("enter_room", (_ROOM,)),
    # Consultation rooms (a party and their counsel in private).
    "request_consultation": Schema(
        "request_consultation",
        (Field("participant_ids", "id_list", max_length=5),),
    ),
    "answer_consultation": Schema(
        "answer_consultation",
        (Field("request_id", "string", max_length=64), Field("accept", "boolean")),
    ),
    "join_consultation": Schema("join_consultation", (_ROOM,)),
    "allow_consultation": Schema(
        "allow_consultation", (Field("request_id", "string", max_length=64),)
    ),
    "lock_consultation": Schema("lock_consultation", (_ROOM, Field("locked", "boolean"))),
    "leave_private": Schema("leave_private", ()),
    "end_consultation": Schema("end_consultation", (_ROOM,)),
    "close_caucus": Schema("close_caucus", (_ROOM,)),
    "caucus_timer": Schema(
        "caucus_timer", (_ROOM, Field("minutes", "integer", required=False, nullable=True))
    ),
}
