"""The one permission table (role x action) that every entry point consults."""

from __future__ import annotations

from enum import StrEnum

from .actors import Actor
from .errors import Forbidden
from .hearing import Hearing, HearingAction, HearingKind
from .participant import Role


class Action(StrEnum):
    """Everything a role may or may not do; the keys of :data:`PERMISSIONS`."""

    VIEW_HEARING = "view_hearing"
    VIEW_ALL_STATES = "view_all_states"
    OPEN_HEARING = "open_hearing"
    START_HEARING = "start_hearing"
    PAUSE_HEARING = "pause_hearing"
    RESUME_HEARING = "resume_hearing"
    SUSPEND_HEARING = "suspend_hearing"
    ADJOURN_HEARING = "adjourn_hearing"
    CLOSE_HEARING = "close_hearing"
    ADMIT = "admit"
    RETURN_TO_WAITING = "return_to_waiting"
    REMOVE = "remove"
    MUTE_OTHERS = "mute_others"
    LOCK_MUTE = "lock_mute"
    CALL_WITNESS = "call_witness"
    CONTROL_RECORDING = "control_recording"
    CONTROL_LIVESTREAM = "control_livestream"
    SET_LAYOUT = "set_layout"
    HELP_PARTICIPANT = "help_participant"  # technical help: reconnect, report device issues
    CORRECT_TRANSCRIPT = "correct_transcript"
    FINALISE_TRANSCRIPT = "finalise_transcript"
    LIST_RECORDINGS = "list_recordings"
    READ_TRANSCRIPT = "read_transcript"  # read and download the stored transcript
    SPEAK = "speak"
    PUBLISH_VIDEO = "publish_video"
    RECEIVE_MEDIA = "receive_media"
    RAISE_HAND = "raise_hand"
    TAKE_OATH = "take_oath"  # a witness or expert gives the undertaking (core/oath.py)
    GRANT_FLOOR = "grant_floor"  # give a raised hand the floor (unmute, spotlight) or lower it
    REQUEST_CONSULTATION = "request_consultation"
    OPEN_CAUCUS = "open_caucus"
    DRAFT_AGREEMENT = "draft_agreement"
    SIGN = "sign"
    SEND_NOTICE = "send_notice"
    SERVE_DOCUMENTS = "serve_documents"  # electronic service: serve, follow up, record by hand
    VERIFY_IDENTITY = "verify_identity"  # confirm someone's identity by hand, with a reason
    WAIVE_IDENTITY = "waive_identity"  # let someone in without the identity check, with reason
    # register who someone is on the case (name, ID, phone, reference photo) from the console
    REGISTER_IDENTITY = "register_identity"
    # evidence (core/evidence.py): who sees which exhibit is the domain's visible_to
    VIEW_EVIDENCE = "view_evidence"  # the exhibits one may see, and what is presented
    UPLOAD_EVIDENCE = "upload_evidence"  # submit an exhibit (or a corrected version)
    RELEASE_EVIDENCE = "release_evidence"  # show a side's exhibit to the other side (证据交换)
    PRESENT_EVIDENCE = "present_evidence"  # show an exhibit on every screen (a party: when granted)
    GRANT_PRESENTING = "grant_presenting"  # let a party or counsel present, or stop them
    RECORD_OPINION = "record_opinion"  # the other side's opinion on an exhibit (质证意见)
    ASK_FOR_HELP = "ask_for_help"  # alert the clerk: stuck with the devices, the link, anything
    SCHEDULE_HEARING = "schedule_hearing"  # book, reschedule, cancel (core/schedule.py)
    OVERRIDE_SCHEDULE_CONFLICT = "override_schedule_conflict"  # book despite a clash, with reason
    PICK_SLOT = "pick_slot"  # a party books their mediation in a mediator's published window


_JUDICIAL = frozenset(
    {
        Action.OPEN_HEARING,
        Action.START_HEARING,
        Action.PAUSE_HEARING,
        Action.RESUME_HEARING,
        Action.SUSPEND_HEARING,
        Action.ADJOURN_HEARING,
        Action.CLOSE_HEARING,
        Action.ADMIT,
        Action.RETURN_TO_WAITING,
        Action.REMOVE,
        Action.MUTE_OTHERS,
        Action.LOCK_MUTE,
        Action.CALL_WITNESS,
        Action.CONTROL_RECORDING,
        Action.CONTROL_LIVESTREAM,
        Action.SET_LAYOUT,
        Action.GRANT_FLOOR,
        Action.FINALISE_TRANSCRIPT,
        Action.VERIFY_IDENTITY,
        Action.WAIVE_IDENTITY,
        Action.REGISTER_IDENTITY,
        Action.GRANT_PRESENTING,
    }
)
# What the court does with evidence besides presiding: it receives, releases, presents and
# records the opinions (the clerk presents for a party who cannot).
_COURT_EVIDENCE = frozenset(
    {
        Action.UPLOAD_EVIDENCE,
        Action.RELEASE_EVIDENCE,
        Action.PRESENT_EVIDENCE,
        Action.RECORD_OPINION,
    }
)
# A side submits its exhibits and presents them when the judge gives it the floor to.
_SIDE_EVIDENCE = frozenset({Action.UPLOAD_EVIDENCE, Action.PRESENT_EVIDENCE})
_PARTICIPATE = frozenset(
    {
        Action.VIEW_HEARING,
        Action.SPEAK,
        Action.PUBLISH_VIDEO,
        Action.RECEIVE_MEDIA,
        Action.RAISE_HAND,
        Action.VIEW_EVIDENCE,
        Action.ASK_FOR_HELP,
    }
)
_SEES_ALL = frozenset(
    {
        Action.VIEW_ALL_STATES,
        Action.LIST_RECORDINGS,
        Action.READ_TRANSCRIPT,
        Action.SEND_NOTICE,
        Action.SERVE_DOCUMENTS,
        # Court staff keep the calendar; a clash may be accepted on purpose (related cases
        # heard one after the other by the same judge and parties), never by a party.
        Action.SCHEDULE_HEARING,
        Action.OVERRIDE_SCHEDULE_CONFLICT,
    }
)

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.JUDGE: _JUDICIAL | _PARTICIPATE | _SEES_ALL | _COURT_EVIDENCE | {Action.HELP_PARTICIPANT},
    # The clerk sees all and helps with technical problems, but holds no judicial power:
    # only suspending (technical problem) and correcting the transcript. Checking someone's
    # identity by hand (video and ID card) is the clerk's work, and so is registering the
    # people on the case; waiving the check is not.
    Role.CLERK: _PARTICIPATE
    | _SEES_ALL
    | _COURT_EVIDENCE
    | {
        Action.HELP_PARTICIPANT,
        Action.SUSPEND_HEARING,
        Action.CORRECT_TRANSCRIPT,
        Action.VERIFY_IDENTITY,
        Action.REGISTER_IDENTITY,
    },
    Role.MEDIATOR: _JUDICIAL
    | _PARTICIPATE
    | _SEES_ALL
    | _COURT_EVIDENCE
    | {Action.HELP_PARTICIPANT, Action.OPEN_CAUCUS, Action.DRAFT_AGREEMENT},
    Role.PARTY: _PARTICIPATE
    | _SIDE_EVIDENCE
    | {Action.REQUEST_CONSULTATION, Action.SIGN, Action.PICK_SLOT},
    Role.COUNSEL: _PARTICIPATE
    | _SIDE_EVIDENCE
    | {Action.REQUEST_CONSULTATION, Action.SIGN, Action.PICK_SLOT},
    Role.WITNESS: _PARTICIPATE | {Action.TAKE_OATH},
    Role.EXPERT: _PARTICIPATE | {Action.TAKE_OATH},
    Role.INTERPRETER: _PARTICIPATE,
    Role.OBSERVER: frozenset(
        {Action.VIEW_HEARING, Action.RECEIVE_MEDIA, Action.VIEW_EVIDENCE, Action.ASK_FOR_HELP}
    ),
    Role.COURTROOM_DISPLAY: frozenset(
        {Action.VIEW_HEARING, Action.RECEIVE_MEDIA, Action.VIEW_EVIDENCE}
    ),
}

# Actions that only exist in one kind of session.
# Signing means signing the mediation agreement: a court hearing has none.
# A party picks a slot among a mediator's after-hours windows; a court hearing is set by the
# court.
_MEDIATION_ONLY = frozenset(
    {Action.OPEN_CAUCUS, Action.DRAFT_AGREEMENT, Action.SIGN, Action.PICK_SLOT}
)
# The undertaking (证人保证书) is a court's procedure. Witnesses and experts are still called in
# and dismissed in a mediation, by the mediator who holds the judge's powers there: were calling
# them hearing-only, one added to a mediation would wait outside with nobody able to let them in.
_HEARING_ONLY = frozenset({Action.TAKE_OATH})

# The permission each hearing state change needs. Resuming after a suspension is the judge's
# call even though the clerk may suspend: the clerk fixes the problem, the judge decides
# that the hearing goes on.
TRANSITION_PERMISSIONS: dict[HearingAction, Action] = {
    HearingAction.OPEN: Action.OPEN_HEARING,
    HearingAction.START: Action.START_HEARING,
    HearingAction.PAUSE: Action.PAUSE_HEARING,
    HearingAction.RESUME: Action.RESUME_HEARING,
    HearingAction.SUSPEND: Action.SUSPEND_HEARING,
    HearingAction.ADJOURN: Action.ADJOURN_HEARING,
    HearingAction.CLOSE: Action.CLOSE_HEARING,
}


def can(role: Role, action: Action, kind: HearingKind) -> bool:
    """True if ``role`` may perform ``action`` in a session of ``kind``.

    ``kind`` is required: the same role holds different powers in a hearing and a mediation
    (a mediator presides only over a mediation), so a check without it is a bug.
    """
    if kind is HearingKind.HEARING and action in _MEDIATION_ONLY:
        return False
    if kind is HearingKind.MEDIATION and action in _HEARING_ONLY:
        return False
    # A mediator holds the judge's powers only in a mediation; should one sit in a court
    # hearing they take part like anyone else and preside over nothing.
    if role is Role.MEDIATOR and kind is HearingKind.HEARING:
        return action in _PARTICIPATE
    return action in PERMISSIONS[role]


def allowed_actions(role: Role, kind: HearingKind) -> frozenset[Action]:
    """Every action ``role`` may perform in a session of ``kind`` (the client's UI asks this)."""
    return frozenset(a for a in Action if can(role, a, kind))


def require(role: Role, action: Action, kind: HearingKind) -> None:
    """Raise :class:`Forbidden` unless ``role`` may perform ``action`` in a ``kind`` session."""
    if not can(role, action, kind):
        raise Forbidden(f"{role.value} may not {action.value.replace('_', ' ')}")


def authorize(actor: Actor, action: Action, hearing: Hearing) -> None:
    """The one authorization path: may ``actor`` perform ``action`` on ``hearing``?

    Court staff (API key, staff token) and the system may act on any hearing; a participant
    only on the hearing their token is for, and only as the permission table allows for the
    hearing's kind. Raises :class:`Forbidden` otherwise.
    """
    if actor.is_staff or actor.is_system:
        return
    if actor.role is None or actor.hearing_id != hearing.id:
        raise Forbidden("not a participant of this hearing")
    require(actor.role, action, hearing.kind)


def is_authorized(actor: Actor, action: Action, hearing: Hearing) -> bool:
    """Whether :func:`authorize` would let ``actor`` perform ``action`` on ``hearing``: for
    deciding what someone is shown, not for guarding a change (use :func:`authorize`)."""
    try:
        authorize(actor, action, hearing)
    except Forbidden:
        return False
    return True


def require_staff(
    actor: Actor, message: str = "only court staff may do this", *, system: bool = True
) -> None:
    """Actions of the court's staff that concern no one hearing's participants (creating
    hearings, setting policies, the board): only court staff, and the
    system unless ``system`` is False, may perform them. Raises :class:`Forbidden`."""
    if actor.is_staff or (system and actor.is_system):
        return
    raise Forbidden(message)
