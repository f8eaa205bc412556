"""The /hearing socket.io namespace: thin handlers that validate, call the service, emit."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from cluster import NoNodeAvailable, Placement
from hearing_server.auth.tokens import TokenError, TokenService
from hearing_server.core.actors import Actor
from hearing_server.core.errors import DomainError
from hearing_server.core.hearing import HearingAction, HearingKind
from hearing_server.core.oath import oaths_for
from hearing_server.core.participant import Participant, PartySide, Role
from hearing_server.core.permissions import Action, allowed_actions, can
from hearing_server.logs import current_request_id, new_request_id, request_context
from hearing_server.schema import SchemaError
from hearing_server.service.board import BoardService
from hearing_server.service.events import (
    AgreementChanged,
    CaptionPublished,
    ConsultationChanged,
    EvidenceChanged,
    HearingChanged,
    HearingMoved,
    HelpRequested,
    IdentityAlertRaised,
    IdentityChanged,
    IdentityProgress,
    LivestreamStateChanged,
    NoticeChanged,
    ParticipantChanged,
    PresentationChanged,
    RecordingAlertRaised,
    RecordingStateChanged,
    RoomsChanged,
    ServerLoadChanged,
    ServiceEvent,
    SubscriberOfferMade,
    TrackChanged,
)
from hearing_server.service.hearings import HearingService, hearing_to_json, participant_to_json
from hearing_server.service.identity import IdentityService
from hearing_server.service.live import LiveHearings
from hearing_server.service.notices import NoticeService
from hearing_server.service.presenting import PresentingService
from hearing_server.service.private_rooms import PrivateRooms
from signaling.protocol import NAMESPACE, PROTOCOL_VERSION

from .connections import ConnectionsPerAddress
from .messages import CLIENT_EVENTS
from .ports import LivestreamPort, MediaPort, RecordingPort

log = logging.getLogger(__name__)

Handler = Callable[[str, Actor, dict[str, Any]], Awaitable[dict[str, Any]]]


def hearing_room(hearing_id: str) -> str:
    return f"h:{hearing_id}"


def staff_room(hearing_id: str) -> str:
    """Roles that see everyone's live state (judge, clerk, mediator)."""
    return f"h:{hearing_id}:staff"


def public_room(hearing_id: str) -> str:
    """Everyone else in the hearing: they see who takes part, not their live state."""
    return f"h:{hearing_id}:public"


def participant_room(participant_id: str) -> str:
    return f"p:{participant_id}"


def _sees_all(role: Role, kind: HearingKind) -> bool:
    return can(role, Action.VIEW_ALL_STATES, kind)


# What participants without VIEW_ALL_STATES learn about the others.
_PUBLIC_PARTICIPANT_FIELDS = (
    "id",
    "role",
    "display_name",
    "side",
    "represents",
    "interprets_for",
    "language",
)


def _refuse(code: str, message: str, **extra: Any) -> socketio.exceptions.ConnectionRefusedError:
    """A refusal the client sees as connect_error {message, data: {code, message, ...extra}}."""
    return socketio.exceptions.ConnectionRefusedError(
        message, {"code": code, "message": message, **extra}
    )


class ClientError(Exception):
    """An error reported to the client as an ``error`` event and a failed ack."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class HearingNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """Signaling for participants of a hearing. Per-client data lives in the sio session."""

    def __init__(
        self,
        *,
        tokens: TokenService,
        hearings: HearingService,
        live: LiveHearings,
        media: MediaPort,
        media_errors: tuple[type[Exception], ...],
        ice_servers: Callable[[str], list[dict[str, Any]]],
        recording: RecordingPort,
        livestream: LivestreamPort,
        identity: IdentityService,
        rooms: PrivateRooms,
        notices: NoticeService,
        board: BoardService,
        presenting: PresentingService,
        placement: Placement,
        failover: dict[str, Any] | None = None,
        connections: ConnectionsPerAddress | None = None,
    ) -> None:
        super().__init__(NAMESPACE)
        self._connections = connections
        self._placement = placement
        self._failover = failover
        self._presenting = presenting
        self._notices = notices
        self._board = board
        self._rooms = rooms
        self._identity = identity
        self._tokens = tokens
        self._hearings = hearings
        self._live = live
        self._media = media
        self._media_errors = media_errors
        self._ice_servers = ice_servers
        self._recording = recording
        self._livestream = livestream
        self._handlers: dict[str, Handler] = {
            "join": self._join,
            "leave": self._leave,
            "publish_offer": self._publish_offer,
            "subscribe_answer": self._subscribe_answer,
            "resubscribe": self._resubscribe,
            "admit": self._admit,
            "return_to_waiting": self._return_to_waiting,
            "remove": self._remove,
            "mute": self._mute,
            "raise_hand": self._raise_hand,
            "lower_hand": self._lower_hand,
            "take_oath": self._take_oath,
            "network_report": self._network_report,
            "send_notice": self._send_notice,
            "notice_receipt": self._notice_receipt,
            "dismiss_witness": self._dismiss_witness,
            "grant_floor": self._grant_floor,
            "present": self._present,
            "presentation_move": self._presentation_move,
            "stop_presenting": self._stop_presenting,
            "present_screen": self._present_screen,
            "grant_presenting": self._grant_presenting,
            "spotlight": self._spotlight,
            "hearing_action": self._hearing_action,
            "set_layout": self._set_layout,
            "recording": self._recording_control,
            "livestream": self._livestream_control,
            "verify_identity": self._verify_identity,
            "waive_identity": self._waive_identity,
            "open_caucus": self._open_caucus,
            "enter_room": self._enter_room,
            "close_caucus": self._close_caucus,
            "caucus_timer": self._caucus_timer,
            "request_consultation": self._request_consultation,
            "answer_consultation": self._answer_consultation,
            "join_consultation": self._join_consultation,
            "allow_consultation": self._allow_consultation,
            "lock_consultation": self._lock_consultation,
            "leave_private": self._leave_private,
            "end_consultation": self._end_consultation,
        }
        assert set(self._handlers) == set(CLIENT_EVENTS)

    # -- connection -------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        # Counted before the token is looked at: a flood of connections costs no store reads.
        if self._connections is not None and not self._connections.admit(sid, environ):
            raise _refuse(
                "too_many_connections",
                f"at most {self._connections.limit} connections from one address",
            )
        try:
            await self._connect(sid, environ, auth)
        except BaseException:
            if self._connections is not None:
                self._connections.release(sid)
            raise

    def _check_guesses(self, environ: dict[str, Any]) -> None:
        wait = self._connections.failure_wait(environ) if self._connections else 0.0
        if wait:
            raise _refuse(
                "rate_limited",
                "too many refused tokens from this address; slow down",
                retry_after=max(1, math.ceil(wait)),
            )

    def _token_refused(self, environ: dict[str, Any]) -> None:
        if self._connections is not None:
            self._connections.failed(environ)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        self._check_guesses(environ)
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            self._token_refused(environ)
            raise _refuse("unauthorized", "connect with auth {token}")
        try:
            claims = await self._tokens.verify_join(token)
            participant = await self._hearings.store.get_participant(claims.participant_id)
        except TokenError as exc:
            self._token_refused(environ)
            raise _refuse(exc.code, exc.message) from exc
        except DomainError as exc:
            self._token_refused(environ)
            raise _refuse("invalid_token", exc.message) from exc
        if participant.removed:
            raise _refuse("removed", "you were removed from this hearing")
        await self._check_placement(claims.hearing_id)
        await self.save_session(
            sid,
            {
                "participant_id": claims.participant_id,
                "hearing_id": claims.hearing_id,
                "role": claims.role.value,
                "joined": False,
            },
        )
        await self.enter_room(sid, participant_room(claims.participant_id))

    async def _check_placement(self, hearing_id: str) -> None:
        """Refuse a client whose hearing another node serves (``moved``, with its URL: the
        client goes there), or that nobody can serve just now (``unavailable``, with
        ``retry_after`` seconds: its server stopped and the hearing moves shortly)."""
        try:
            owner = await self._placement.owner(hearing_id)
        except NoNodeAvailable as exc:
            raise _refuse("unavailable", str(exc), retry_after=exc.retry_after) from exc
        except Exception as exc:
            log.exception("placing hearing %s failed", hearing_id)
            raise _refuse(
                "unavailable", "the server cannot place this hearing now", retry_after=3.0
            ) from exc
        if owner.id != self._placement.node.id:
            raise _refuse("moved", f"this hearing is served at {owner.url}", url=owner.url)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        if self._connections is not None:
            self._connections.release(sid)
        session = await self.get_session(sid)
        if not session or not session.get("joined"):
            return
        pid, hid = session["participant_id"], session["hearing_id"]
        if self._live.connection_of(pid) != sid:
            return  # replaced by a newer connection, or already left: nothing of ours runs
        try:
            await self._media.remove(pid)
        except Exception:
            log.exception("closing media of %s failed", pid)
        if not session.get("left"):
            await self._live.disconnect(hid, pid, sid)

    # -- dispatch ---------------------------------------------------------------------------

    async def trigger_event(self, event: str, *args: Any) -> Any:
        # Each event is a request of its own: its log lines, and its error answer, carry an id.
        with request_context(new_request_id()):
            return await self._dispatch(event, *args)

    async def _dispatch(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect") and not self._sent_by_client(args[0]):
            return await super().trigger_event(event, *args)
        sid = args[0]
        payload = args[1] if len(args) > 1 else {}
        handler = self._handlers.get(event)
        try:
            if handler is None:
                raise ClientError("unknown_event", f"unknown event {event!r}")
            data = CLIENT_EVENTS[event].parse({} if payload is None else payload)
            session = await self.get_session(sid)
            # After leave (or once replaced or removed) the connection speaks for nobody.
            if event != "join" and (not session.get("joined") or session.get("left")):
                raise ClientError("not_joined", "send join first")
            actor = Actor(
                id=session["participant_id"],
                role=Role(session["role"]),
                hearing_id=session["hearing_id"],
            )
            result = await handler(sid, actor, data)
            return {"ok": True, **result}
        except ClientError as exc:
            return await self._fail(sid, event, exc.code, exc.message)
        except SchemaError as exc:
            return await self._fail(sid, event, exc.code, exc.message)
        except (DomainError, TokenError) as exc:
            return await self._fail(sid, event, exc.code, exc.message)
        except self._media_errors as exc:
            return await self._fail(sid, event, str(getattr(exc, "code", "media_error")), str(exc))
        except Exception:
            log.exception("signaling event %s failed", event)
            return await self._fail(sid, event, "internal", "internal server error")

    def _sent_by_client(self, sid: str) -> bool:
        """Whether a ``connect`` or ``disconnect`` is an event a client sent by that name.

        python-socketio hands those to the same handlers as the real connect and disconnect;
        it runs the real ones while the client is still connecting or already
        disconnecting, and takes events only from a client fully connected."""
        return bool(self.server.manager.is_connected(sid, self.namespace))

    async def _fail(self, sid: str, event: str, code: str, message: str) -> dict[str, Any]:
        error = {"code": code, "message": message, "event": event}
        if (request_id := current_request_id()) is not None:
            error["request_id"] = request_id
        await self.emit("error", error, to=sid)
        return {"ok": False, **error}

    # -- handlers ---------------------------------------------------------------------------

    async def _join(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        if data["protocol"] != PROTOCOL_VERSION:
            raise ClientError("protocol_mismatch", f"server speaks protocol {PROTOCOL_VERSION}")
        assert actor.hearing_id is not None
        if actor.hearing_id not in self._placement.owned():
            # Connected before the hearing moved away from this node: start over there.
            await self.disconnect(sid)
            raise ClientError("moved", "this hearing moved to another server; reconnect")
        previous = self._live.connection_of(actor.id)
        if previous is not None and previous != sid:
            await self._replace(previous, actor.id)
        # Joined before the domain join completes: another participant's arrival may route
        # media to us (a subscriber offer) while our join is still being saved, and our answer
        # to it must not be refused as not_joined.
        async with self.session(sid) as session:
            session["joined"] = True
            session["left"] = False
        try:
            me = await self._live.join(actor.hearing_id, actor.id, sid)
        except Exception:
            async with self.session(sid) as session:
                session["joined"] = False
            raise
        assert actor.role is not None
        hearing = await self._hearings.store.get_hearing(actor.hearing_id)
        sees_all = _sees_all(actor.role, hearing.kind)
        await self.enter_room(sid, hearing_room(actor.hearing_id))
        await self.enter_room(
            sid, staff_room(actor.hearing_id) if sees_all else public_room(actor.hearing_id)
        )
        participants = await self._hearings.store.list_participants(actor.hearing_id)
        # Those who see everyone see everyone's identity check (the console's badges); the
        # others only their own.
        identity = (
            await self._identity.overview(actor.hearing_id)
            if sees_all
            else {actor.id: await self._identity.view(actor.id)}
        )
        recording = self._recording.status(hearing.id)
        alert = self._recording.last_alert(hearing.id) if sees_all else None
        if alert is not None:  # raised before they joined: recording_alert reached them not
            recording["alert"] = alert
        return {
            "protocol": PROTOCOL_VERSION,
            "hearing": hearing_to_json(hearing),
            "me": self._participant_view(me, full=True),
            "allowed_actions": sorted(allowed_actions(actor.role, hearing.kind)),
            "participants": [self._participant_view(p, full=sees_all) for p in participants],
            # TURN credentials are issued afresh for each join (they are short-lived)
            "ice_servers": self._ice_servers(actor.id),
            "recording": recording,
            "livestream": self._livestream.status(hearing.id),
            "identity": identity,
            "rooms": self._rooms.rooms(hearing.id),
            # A witness's or expert's undertaking, in their language, to give when called in.
            "oath": [
                {"language": o.language, "title": o.title, "text": o.text}
                for o in oaths_for(me.role, me.language)
            ]
            if hearing.kind is HearingKind.HEARING
            else [],
            "notices": await self._notices.visible_to(actor, hearing.id),
            # what is on every screen, for those in the hearing room (None elsewhere)
            "presentation": await self._presenting.state_for(actor, hearing.id),
            # several nodes: where to go when this node stops answering, and after how long
            # (its hearings move once its lease has expired)
            "failover": self._failover,
        }

    async def _replace(self, old_sid: str, pid: str) -> None:
        """A newer connection speaks for ``pid``: close the older one and its media."""
        await self._media.remove(pid)
        await self.emit(
            "replaced", {"reason": "you joined from another window or device"}, to=old_sid
        )
        try:
            async with self.session(old_sid) as session:
                session["left"] = True
        except KeyError:
            return  # already gone
        await self.disconnect(old_sid)

    def _participant_view(self, p: Participant, *, full: bool) -> dict[str, Any]:
        if not full:
            return participant_to_json(p, with_state=False)
        return {
            **participant_to_json(p),
            "room": self._live.room_of(p.hearing_id, p.id),
            "connected": self._live.is_connected(p.hearing_id, p.id),
        }

    async def _leave(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        async with self.session(sid) as session:
            session["left"] = True
        await self._media.remove(actor.id)
        await self._live.leave(actor.hearing_id, actor.id)
        for room in (
            hearing_room(actor.hearing_id),
            staff_room(actor.hearing_id),
            public_room(actor.hearing_id),
        ):
            await self.leave_room(sid, room)
        return {}

    async def _publish_offer(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        await self._live.check_publisher(actor, actor.hearing_id)
        answer = await self._media.publish(actor.id, data["sdp"], screen_mid=data.get("screen_mid"))
        return {"type": "answer", "sdp": answer}

    async def _subscribe_answer(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        await self._media.subscriber_answer(actor.id, data["sdp"], data["revision"])
        return {}

    async def _resubscribe(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        revision = await self._media.resubscribe(actor.id, restart=bool(data.get("restart")))
        return {"revision": revision}

    async def _admit(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        p = await self._live.admit(actor, actor.hearing_id, data["participant_id"])
        return {"participant": participant_to_json(p)}

    async def _return_to_waiting(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        p = await self._live.return_to_waiting(actor, actor.hearing_id, data["participant_id"])
        return {"participant": participant_to_json(p)}

    async def _remove(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        pid = data["participant_id"]
        p = await self._live.remove(actor, actor.hearing_id, pid)
        await self._media.remove(pid)
        await self.emit("removed", {"reason": "removed by the court"}, room=participant_room(pid))
        for other_sid in await self._sids_of(pid):
            async with self.session(other_sid) as session:
                session["left"] = True
            await self.disconnect(other_sid)
        return {"participant": participant_to_json(p)}

    async def _take_oath(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        p = await self._live.take_oath(actor, actor.hearing_id)
        return {"participant": participant_to_json(p)}

    async def _dismiss_witness(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        pid, to = data["participant_id"], data["to"]
        p = await self._live.dismiss_witness(actor, actor.hearing_id, pid, to)
        if to == "out":
            # Like a removal, but the link keeps working: joining again puts them in the
            # waiting room, where the judge can recall them.
            await self._media.remove(pid)
            await self.emit(
                "dismissed", {"reason": "your testimony is over"}, room=participant_room(pid)
            )
            for other_sid in await self._sids_of(pid):
                async with self.session(other_sid) as session:
                    session["left"] = True
                await self.disconnect(other_sid)
        return {"participant": participant_to_json(p)}

    async def _network_report(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        self._board.report_network(actor, data["grade"], data.get("loss_pct"), data.get("rtt_ms"))
        return {}

    async def _send_notice(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        record = await self._notices.send(
            actor,
            actor.hearing_id,
            audience=data["audience"],
            target=data.get("target"),
            template=data.get("template"),
            text=data.get("text"),
        )
        return {"notice": record.to_json()}

    async def _notice_receipt(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        record = await self._notices.receipt(
            actor, data["notice_id"], read=data["status"] == "read"
        )
        mine = record.receipt_of(actor.id)
        return {"receipt": mine.to_json() if mine is not None else None}

    async def _sids_of(self, pid: str) -> list[str]:
        participants = self.server.manager.get_participants(self.namespace, participant_room(pid))
        return [sid for sid, _eio in participants]

    async def _mute(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        p = await self._live.set_mute(
            actor,
            actor.hearing_id,
            data["participant_id"],
            muted=data["muted"],
            lock=data.get("lock"),
        )
        return {"participant": participant_to_json(p)}

    async def _raise_hand(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        p = await self._live.raise_hand(actor, actor.hearing_id, data["raised"])
        return {"participant": participant_to_json(p)}

    async def _lower_hand(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        p = await self._live.lower_hand(actor, actor.hearing_id, data["participant_id"])
        return {"participant": participant_to_json(p)}

    async def _grant_floor(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        p = await self._live.grant_floor(actor, actor.hearing_id, data["participant_id"])
        return {"participant": participant_to_json(p)}

    async def _present(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._presenting.present(
            actor, actor.hearing_id, data["exhibit_id"], data.get("page") or 1
        )

    async def _presentation_move(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._presenting.move(actor, actor.hearing_id, data)

    async def _present_screen(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._presenting.present_screen(actor, actor.hearing_id)

    async def _stop_presenting(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._presenting.stop(actor, actor.hearing_id)

    async def _grant_presenting(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._presenting.grant(actor, actor.hearing_id, data["participant_id"])

    async def _spotlight(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        h = await self._hearings.set_spotlight(actor, actor.hearing_id, data["participant_id"])
        return {"hearing": hearing_to_json(h)}

    async def _hearing_action(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        h = await self._hearings.transition(
            actor,
            actor.hearing_id,
            HearingAction(data["action"]),
            next_sitting_id=data.get("next_sitting_id"),
        )
        return {"hearing": hearing_to_json(h)}

    async def _set_layout(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        h = await self._hearings.set_layout(actor, actor.hearing_id, data["layout"])
        return {"hearing": hearing_to_json(h)}

    async def _recording_control(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return {"recording": await self._recording.control(actor, actor.hearing_id, data["action"])}

    async def _livestream_control(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        status = await self._livestream.control(
            actor, actor.hearing_id, data["action"], data.get("delay_seconds")
        )
        return {"livestream": status}

    async def _verify_identity(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._identity.verify(actor, data["participant_id"], data["reason"])

    async def _waive_identity(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        return await self._identity.waive(actor, data["participant_id"], data["reason"])

    async def _open_caucus(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        room = await self._rooms.open_caucus(
            actor,
            actor.hearing_id,
            PartySide(data["side"]),
            timer_minutes=data.get("timer_minutes"),
        )
        return {"room": room}

    async def _enter_room(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._rooms.enter(actor, actor.hearing_id, data["room_id"])

    async def _close_caucus(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._rooms.close_caucus(actor, actor.hearing_id, data["room_id"])

    async def _caucus_timer(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        room = await self._rooms.set_timer(
            actor, actor.hearing_id, data["room_id"], data.get("minutes")
        )
        return {"room": room}

    async def _request_consultation(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._rooms.request_consultation(
            actor, actor.hearing_id, data["participant_ids"]
        )

    async def _answer_consultation(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._rooms.answer_consultation(
            actor, actor.hearing_id, data["request_id"], data["accept"]
        )

    async def _join_consultation(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._rooms.join_consultation(actor, actor.hearing_id, data["room_id"])

    async def _allow_consultation(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._rooms.allow_consultation(actor, actor.hearing_id, data["request_id"])

    async def _lock_consultation(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._rooms.lock_consultation(
            actor, actor.hearing_id, data["room_id"], data["locked"]
        )

    async def _leave_private(self, sid: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._rooms.leave_private(actor, actor.hearing_id)

    async def _end_consultation(
        self, sid: str, actor: Actor, data: dict[str, Any]
    ) -> dict[str, Any]:
        assert actor.hearing_id is not None
        return await self._rooms.end_consultation(actor, actor.hearing_id, data["room_id"])

    # -- pushes from the service and media layers --------------------------------------------

    async def on_service_event(self, event: ServiceEvent) -> None:
        """Deliver a feature's event to the people it concerns (docs/protocol.md)."""
        match event:
            case HearingChanged(hearing_id=hid, data=data):
                await self.emit("hearing_state", data, room=hearing_room(hid))
            case ParticipantChanged(hearing_id=hid, data=full):
                reduced = {k: full[k] for k in _PUBLIC_PARTICIPANT_FIELDS if k in full}
                await self.emit("participant_updated", full, room=staff_room(hid))
                await self.emit("participant_updated", reduced, room=public_room(hid))
                await self.emit("me_updated", full, room=participant_room(full["id"]))
            case RecordingStateChanged(hearing_id=hid, status=status):
                await self.emit("recording_state", status, room=hearing_room(hid))
            case LivestreamStateChanged(hearing_id=hid, status=status):
                await self.emit("livestream_state", status, room=hearing_room(hid))
            case RecordingAlertRaised(hearing_id=hid, alert=alert):
                await self.emit("recording_alert", alert, room=staff_room(hid))
            case CaptionPublished(recipients=recipients, caption=caption):
                for pid in recipients:
                    await self.emit("caption", caption, room=participant_room(pid))
            case TrackChanged(hearing_id=hid, published=published, data=data):
                name = "track_published" if published else "track_unpublished"
                await self.emit(name, data, room=hearing_room(hid))
            case SubscriberOfferMade(participant_id=pid, offer=offer):
                # fresh TURN credentials: an offer may make the client open a new connection
                # long after its join's credentials expired
                offer = {**offer, "ice_servers": self._ice_servers(pid)}
                await self.emit("subscriber_offer", offer, room=participant_room(pid))
            case HearingMoved(hearing_id=hid):
                # Their clients reconnect at once and are sent to the hearing's new node.
                for sid, _eio_sid in list(
                    self.server.manager.get_participants(NAMESPACE, hearing_room(hid))
                ):
                    await self.disconnect(sid)
            case ServerLoadChanged(hearing_ids=hids, status=status):
                for hid in hids:
                    await self.emit("server_load", status, room=staff_room(hid))
            case IdentityChanged(hearing_id=hid, participant_id=pid, data=data):
                await self.emit("identity_updated", data, room=staff_room(hid))
                await self.emit("identity_updated", data, room=participant_room(pid))
            case IdentityProgress(hearing_id=hid, participant_id=pid, data=data):
                progress = {"participant_id": pid, **data}
                await self.emit("identity_progress", progress, room=staff_room(hid))
                await self.emit("identity_progress", progress, room=participant_room(pid))
            case IdentityAlertRaised(hearing_id=hid, alert=alert):
                await self.emit("identity_alert", alert, room=staff_room(hid))
            case HelpRequested(hearing_id=hid, alert=alert):
                await self.emit("help_request", alert, room=staff_room(hid))
            case AgreementChanged(hearing_id=hid, full=full, for_parties=partial, recipients=to):
                await self.emit("agreement_updated", full, room=staff_room(hid))
                for pid in to:
                    await self.emit("agreement_updated", partial, room=participant_room(pid))
            case NoticeChanged(hearing_id=hid, full=full, recipients=to, sent=sent):
                await self.emit("notice_updated", full, room=staff_room(hid))
                if sent:
                    receipts = {r["participant_id"]: r for r in full["receipts"]}
                    for pid in to:
                        mine = {**full, "receipts": [receipts[pid]]}
                        await self.emit("notice", mine, room=participant_room(pid))
            case ConsultationChanged(hearing_id=hid, recipients=to, data=data):
                await self.emit("consultation", data, room=staff_room(hid))
                for pid in to:
                    await self.emit("consultation", data, room=participant_room(pid))
            case RoomsChanged(hearing_id=hid, reason=reason, rooms=rooms):
                await self.emit(
                    "rooms_updated",
                    {"reason": reason, "rooms": list(rooms)},
                    room=hearing_room(hid),
                )
            case EvidenceChanged(hearing_id=hid, reason=reason, exhibit_id=eid):
                # Everyone refetches what they may see; only the staff learn which exhibit.
                await self.emit("evidence_updated", {"reason": reason}, room=public_room(hid))
                await self.emit(
                    "evidence_updated", {"reason": reason, "exhibit_id": eid}, room=staff_room(hid)
                )
            case PresentationChanged(recipients=to, data=data):
                for pid in to:
                    await self.emit("presentation", data, room=participant_room(pid))
