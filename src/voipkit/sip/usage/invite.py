"""InviteSession: the INVITE dialog usage (RFC 3261 §13-§15), as caller (UAC) or callee (UAS).

Knows: the call's life (early, confirmed, terminating), the RFC 3264
offer/answer *state* (``OfferAnswer``; bodies stay opaque ``bytes``),
re-INVITE with 491 glare back-off (RFC 3261 §14), CANCEL (§9), BYE (§15),
reliable provisionals with PRACK (RFC 3262), session timers (RFC 4028),
in-dialog INFO (RFC 6086) and OPTIONS, digest retries of the INVITE (§22.2),
the incoming-call policy (max sessions, do-not-disturb, call forwarding) of
``invite_factory``, and which call an INVITE with Replaces (RFC 3891 §3) takes
over. Other in-dialog requests (REFER, NOTIFY, MESSAGE) are offered to the
session's ``DialogExtension`` objects (``add_extension``) before a 405.
Must not know: SDP syntax, media, sockets, clocks or name resolution — the
``api`` layer builds and reads bodies, resolves targets and passes ``now``.

Following reSIProcate DUM, handling a message is split in two: ``classify``
says what a response or request *means* (``InviteInput``: 1xx with an answer,
2xx with an offer, 491 to our re-INVITE ...), and the session's ``_on_*``
methods say what to do with that input in the current ``SessionState``. The
offer/answer half lives in its own small machine instead of a product enum.
Wire inputs that make no sense in a state are dropped and counted
(``dropped``); application calls that make no sense raise ``LocalProtocolError``.

In-dialog requests go to ``targets``: the caller's targets as given to
``create_uac``, and for the callee the address the INVITE came from. The api
may call ``retarget`` after resolving a new remote target (RFC 3263).
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Protocol

from voipkit.sip.addressing import Destination
from voipkit.sip.auth import AuthError, Credentials, DigestClient
from voipkit.sip.dialog import Dialog, DialogId
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import (
    AckReceived,
    AckTimedOut,
    CancelReceived,
    CoreEvent,
    DialogTerminated,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from voipkit.sip.message import CSeq, NameAddr, Request, Response
from voipkit.sip.replaces import ReplacesError, match_replaces, replaces_of
from voipkit.sip.transaction.keys import TransactionKey
from voipkit.sip.uri import parse_uri
from voipkit.sip.usage.base import Usage, UsageEvent, UsageHost
from voipkit.sip.usage.manager import UsageFactory, UsageManager
from voipkit.sip.usage.offer_answer import Body, OfferAnswer, OfferState
from voipkit.sip.usage.prack import RAck, ReliableProvisional, parse_rack, parse_rseq
from voipkit.sip.usage.session_timer import (
    Refresher,
    SessionExpires,
    SessionTimerConfig,
    expiry_delay,
    option_tags,
    parse_min_se,
    parse_session_expires,
    refresh_delay,
)

SDP = "application/sdp"


# --- events ------------------------------------------------------------------------------


class TerminationReason(Enum):
    """Why a session ended (``Terminated.reason``)."""

    BYE_LOCAL = "bye-local"
    "We hung up with BYE."
    BYE_REMOTE = "bye-remote"
    "The peer hung up with BYE (onInviteClosed)."
    CANCELLED = "cancelled"
    "The INVITE was cancelled (by us as caller, or by the caller when we are callee)."
    REJECTED = "rejected"
    "A final non-2xx response ended the INVITE (sent or received)."
    FORWARDED = "forwarded"
    "We answered 302 with a forward target."
    TIMEOUT = "timeout"
    "A request got no response (Timer B/F, 408), or a reliable 1xx got no PRACK."
    SESSION_EXPIRED = "session-expired"
    "RFC 4028: the session interval passed without a refresh."
    ACK_TIMEOUT = "ack-timeout"
    "Our 2xx was never acknowledged (RFC 3261 §13.3.1.4)."
    TRANSPORT = "transport"
    "The transport failed for every destination."
    PROTOCOL = "protocol"
    "The peer broke offer/answer (e.g. a 2xx without the answer); we sent BYE."


@dataclass(frozen=True, slots=True)
class InviteEvent(UsageEvent):
    """Base of every event an ``InviteSession`` emits."""

    session_id: int
    "The usage id (the facade's sessionId)."


@dataclass(frozen=True, slots=True)
class InviteReceived(InviteEvent):
    """A new call arrived (onInviteIncoming); answer with ring/accept/reject/forward.

    When ``offer`` is None the caller sent no session description: ``accept``
    must carry our offer, and the answer comes in the ACK.
    """

    request: Request
    "The INVITE."
    offer: Body | None
    "The caller's offer, or None."
    replaces: int | None = None
    """The session id of our call this INVITE replaces (RFC 3891 Replaces matched it):
    once the new call is up, that one is to end (BYE, or CANCEL while it rings)."""


@dataclass(frozen=True, slots=True)
class TryingReceived(InviteEvent):
    """A 100 Trying arrived for our INVITE (onInviteTrying)."""

    response: Response
    "The 100."


@dataclass(frozen=True, slots=True)
class ProgressReceived(InviteEvent):
    """A 101-199 provisional arrived (180: onInviteRinging, 183: onInviteSessionProgress)."""

    status: int
    "Its status code."
    reason: str
    "Its reason phrase."
    body: Body | None
    "Its session description, if any."
    early_media: bool
    "True when ``body`` describes early media (an answer, or a preview in an unreliable 1xx)."
    reliable: bool
    "True for an RFC 3262 reliable provisional (we send PRACK)."
    response: Response
    "The response."


@dataclass(frozen=True, slots=True)
class Answered(InviteEvent):
    """A 2xx answered our INVITE (onInviteAnswered); the ACK follows (at once, or after
    ``provide_answer`` when the 2xx carries an offer)."""

    body: Body | None
    "The 2xx's session description (our offer's answer, or the callee's offer)."
    response: Response
    "The 2xx."


@dataclass(frozen=True, slots=True)
class Connected(InviteEvent):
    """The call is connected: the caller sent / the callee got the ACK (onInviteConnected)."""


@dataclass(frozen=True, slots=True)
class Failed(InviteEvent):
    """Our INVITE failed (onInviteFailure); ``Terminated`` follows."""

    status: int | None
    "The final status, or None when no final response arrived."
    reason: str
    "The reason phrase, or a short local description."
    response: Response | None
    "The final response (its Contact lists the targets of a 3xx)."


@dataclass(frozen=True, slots=True)
class Terminated(InviteEvent):
    """The session is over and the usage is gone."""

    reason: TerminationReason
    "Why."
    status: int | None = None
    "The final status involved (487, 486 ...), if any."


@dataclass(frozen=True, slots=True)
class OfferReceived(InviteEvent):
    """A response to our offerless INVITE/re-INVITE carried the peer's offer.

    Call ``provide_answer``: the answer goes in the ACK (2xx) or the PRACK (reliable 1xx).
    """

    body: Body
    "The offer."
    message: Response
    "The response that carried it."


@dataclass(frozen=True, slots=True)
class AnswerReceived(InviteEvent):
    """The peer answered our offer (in a 1xx, 2xx, PRACK or ACK)."""

    body: Body
    "The answer."
    message: Request | Response
    "The message that carried it."


@dataclass(frozen=True, slots=True)
class ReinviteReceived(InviteEvent):
    """The peer sent a re-INVITE (hold, unhold, media change, refresh).

    With an ``offer``, call ``provide_answer`` (or ``reject_update``); without
    one, call ``provide_offer``. The api reads the body to raise onRemoteHold /
    onRemoteUnHold / onInviteUpdated.
    """

    offer: Body | None
    "The peer's new offer, or None for an offerless re-INVITE."
    request: Request
    "The re-INVITE."


@dataclass(frozen=True, slots=True)
class Updated(InviteEvent):
    """A re-INVITE's offer/answer exchange completed (onInviteUpdated for remote ones)."""

    initiated_locally: bool
    "True for our ``update``; False for the peer's re-INVITE."
    remote_body: Body | None
    "The peer's half of the exchange (its answer or its offer)."
    message: Request | Response
    "The message that completed it (2xx or ACK)."


@dataclass(frozen=True, slots=True)
class UpdateFailed(InviteEvent):
    """Our re-INVITE was refused (not 491: that is retried); the old session stands."""

    status: int | None
    "The final status, or None."
    reason: str
    "Reason phrase or local description."


@dataclass(frozen=True, slots=True)
class GlareRetryScheduled(InviteEvent):
    """Our re-INVITE met 491 Request Pending; it will be resent (RFC 3261 §14.1)."""

    retry_at: float
    "When."


@dataclass(frozen=True, slots=True)
class SessionRefreshed(InviteEvent):
    """An RFC 4028 refresh succeeded (sent or received)."""

    interval: int
    "The session interval now in force, seconds."
    we_refresh: bool
    "True when we are the refresher."


@dataclass(frozen=True, slots=True)
class InfoReceived(InviteEvent):
    """An in-dialog INFO arrived; answer it with ``respond(event, status)`` (200, 415 ...)."""

    request: Request
    "The INFO."
    transaction: TransactionKey
    "Its server transaction."
    body: Body | None
    "Its body."


@dataclass(frozen=True, slots=True)
class InfoResponded(InviteEvent):
    """Our INFO got its final response (or none)."""

    status: int | None
    "Final status, or None on timeout/transport failure."
    response: Response | None
    "The response."


@dataclass(frozen=True, slots=True)
class Forwarded(InviteEvent):
    """We answered an incoming INVITE with 302 (onInviteBeginingForward)."""

    target: str
    "The Contact we redirected to."
    request: Request
    "The INVITE."


@dataclass(frozen=True, slots=True)
class AutoRejected(InviteEvent):
    """The incoming-call policy refused an INVITE (max sessions, do-not-disturb), or its
    Replaces header named no call we can give up (400, 481, 486, 603; RFC 3891 §3)."""

    status: int
    "486 Busy Here, 480 Temporarily Unavailable, or the Replaces refusal."
    request: Request
    "The INVITE."
    reason: str = ""
    "Why (the Replaces refusals say which rule applied)."


class DialogExtension(Protocol):
    """Handles in-dialog requests an ``InviteSession`` does not know (REFER, NOTIFY, MESSAGE).

    ``on_request`` returns True when it took the request (and will answer it);
    False lets the next extension, and finally the session's 405, have it.
    """

    def on_request(self, session: InviteSession, event: RequestReceived, *,
                   now: float) -> bool: ...


# --- classification ------------------------------------------------------------------------


class InviteInput(Enum):
    """What a message means to an invite session (DUM's ``toEvent``)."""

    TRYING = auto()
    PROVISIONAL = auto()          # 1xx without a body
    PROVISIONAL_OFFER = auto()    # reliable 1xx with an offer (our INVITE had none)
    PROVISIONAL_ANSWER = auto()   # reliable 1xx with the answer to our offer
    PROVISIONAL_PREVIEW = auto()  # unreliable 1xx with a body: early media preview
    SUCCESS = auto()              # 2xx without a (new) body
    SUCCESS_OFFER = auto()        # 2xx with an offer (our INVITE had none)
    SUCCESS_ANSWER = auto()       # 2xx with the answer to our offer
    SUCCESS_MISSING_ANSWER = auto()  # 2xx without the answer our offer needs
    GLARE = auto()                # 491
    AUTH = auto()                 # 401/407
    TOO_SMALL = auto()            # 422
    DIALOG_GONE = auto()          # 408/481 to an in-dialog request
    FAILURE = auto()              # other 3xx-6xx


def classify(response: Response, offer_state: OfferState, *, reliable: bool) -> InviteInput:
    """What a response to our INVITE or re-INVITE means, given the offer/answer state.

    RFC 3261 §13.2.1 and RFC 3262 §5: an offerless INVITE's offer comes in the
    first reliable 1xx or the 2xx; an INVITE's offer is answered there too.
    """
    status, has_body = response.status, bool(response.body)
    if status == 100:
        return InviteInput.TRYING
    if status < 200:
        if not has_body:
            return InviteInput.PROVISIONAL
        if not reliable:
            return InviteInput.PROVISIONAL_PREVIEW
        if offer_state is OfferState.OFFER_SENT:
            return InviteInput.PROVISIONAL_ANSWER
        if offer_state is OfferState.STABLE:
            return InviteInput.PROVISIONAL_OFFER
        return InviteInput.PROVISIONAL
    if status < 300:
        if offer_state is OfferState.OFFER_SENT:
            return InviteInput.SUCCESS_ANSWER if has_body else InviteInput.SUCCESS_MISSING_ANSWER
        return InviteInput.SUCCESS  # an offer in a 2xx is told apart by the caller (below)
    if status == 491:
        return InviteInput.GLARE
    if status in (401, 407):
        return InviteInput.AUTH
    if status == 422:
        return InviteInput.TOO_SMALL
    if status in (408, 481):
        return InviteInput.DIALOG_GONE
    return InviteInput.FAILURE


def _classify_initial_2xx(response: Response, offer_state: OfferState,
                          answered_early: bool) -> InviteInput:
    if offer_state is OfferState.STABLE and not answered_early and response.body:
        return InviteInput.SUCCESS_OFFER
    return classify(response, offer_state, reliable=False)


# --- configuration ------------------------------------------------------------------------


class SessionState(Enum):
    """Where the call is; offer/answer and pending re-INVITEs are tracked beside it."""

    CALLING = auto()       # UAC: INVITE sent, no final response
    CANCELLING = auto()    # UAC: CANCEL sent (or will be, after the first 1xx)
    INCOMING = auto()      # UAS: INVITE received, no final response sent
    ACCEPTED = auto()      # UAS: 2xx sent, waiting for the ACK; UAC: 2xx received, ACK owed
    CONFIRMED = auto()     # ACK sent / received
    TERMINATING = auto()   # BYE sent
    TERMINATED = auto()


@dataclass(slots=True)
class InvitePolicy:
    """How incoming INVITEs are treated; the api changes it at run time.

    ``max_sessions`` is initialize's maxCallSessions; ``do_not_disturb`` is
    setDoNotDisturb (RFC 3261 §21.4.18 names "do not disturb" as a use of 480
    Temporarily Unavailable, so that is the answer); ``forward_to`` and
    ``forward_busy_only`` are enableCallForward (302 with the target as Contact).
    """

    max_sessions: int = 8
    "More concurrent invite sessions than this: 486 Busy Here (or forward, if busy-only)."
    do_not_disturb: bool = False
    "Refuse every incoming call with 480."
    forward_to: str | None = None
    "Forward incoming calls to this URI (None: no forwarding)."
    forward_busy_only: bool = False
    "Forward only when busy (max sessions reached)."
    contact: NameAddr | None = None
    "Our Contact for responses (None: the INVITE's Request-URI)."
    session_timer: SessionTimerConfig = field(default_factory=SessionTimerConfig)
    "enableSessionTimer/disableSessionTimer."
    reliable: ReliableProvisional = ReliableProvisional.NEVER
    "setReliableProvisional."


def invite_factory(policy: InvitePolicy) -> UsageFactory:
    """The ``UsageFactory`` for new INVITEs: register it with ``on_new_request("INVITE", ...)``.

    Each new INVITE becomes a server ``InviteSession``; when the policy refuses
    the call (do-not-disturb, busy, forwarding) the session answers at once,
    emits ``AutoRejected`` or ``Forwarded`` and ends.
    """

    def make(manager: UsageManager, event: RequestReceived, now: float) -> Usage | None:
        replacing = _replacement(manager, event.request)
        if isinstance(replacing, int):
            # a call that replaces one of ours: the policy already let that one in
            return InviteSession(manager, manager.new_usage_id(), uas_policy=policy,
                                 replaces=replacing)
        if replacing is not None:
            return InviteSession(manager, manager.new_usage_id(), uas_policy=policy,
                                 refusal=(replacing[0], None), refusal_reason=replacing[1])
        busy = manager.live(InviteSession) >= policy.max_sessions  # finished() when terminated
        refusal: tuple[int, str | None] | None = None
        if policy.do_not_disturb:
            refusal = (480, None)
        elif policy.forward_to is not None and (busy or not policy.forward_busy_only):
            refusal = (302, policy.forward_to)
        elif busy:
            refusal = (486, None)
        return InviteSession(manager, manager.new_usage_id(), uas_policy=policy,
                             refusal=refusal)

    return make


def _replacement(manager: UsageManager, request: Request) -> int | tuple[int, str] | None:
    """RFC 3891 §3 for a new INVITE: None without Replaces, else the session id of the
    call it replaces, or the refusal (status, reason) when it names none we can give up."""
    try:
        replaces = replaces_of(request)
    except ReplacesError as exc:
        return (exc.status_hint, exc.reason)
    if replaces is None:
        return None
    sessions = {u.dialog_id: u for u in manager.usages.values()
                if isinstance(u, InviteSession) and u.dialog_id is not None
                and u.state is not SessionState.TERMINATED}
    match = match_replaces(replaces, manager.core.dialog,
                           invite_dialog=lambda dialog_id: dialog_id in sessions)
    if match.dialog is None:
        assert match.status is not None
        return (match.status, match.reason)
    session = sessions[match.dialog]
    if session.state in (SessionState.TERMINATING, SessionState.INCOMING):
        # RFC 3891 §3: a dialog being torn down is as good as terminated (603); one
        # we are still being called on is an early dialog we did not initiate (481)
        status = 603 if session.state is SessionState.TERMINATING else 481
        return (status, "the call to replace is ending" if status == 603
                else "the early dialog to replace was not initiated by this UA")
    return session.id


def glare_delay(ids_token: str, *, owner: bool) -> float:
    """RFC 3261 §14.1 back-off from a random token, in 10 ms units.

    "If the UAC is the owner of the Call-ID ... T has a randomly chosen value
    between 2.1 and 4 seconds in units of 10 ms. If the UAC is not the owner
    ... T has a randomly chosen value of between 0 and 2 seconds in units of
    10 ms." ``IdSource`` has no float source, so ``int(ids.token(2), 16)``
    (0-65535) is reduced modulo the number of steps: 191 for 2.10-4.00 s, 201
    for 0.00-2.00 s.
    """
    value = int(ids_token, 16)
    if owner:
        return (210 + value % 191) / 100
    return (value % 201) / 100


@dataclass(slots=True)
class _Reliable1xx:
    response: Response
    rseq: int
    first_sent: float
    interval: float
    carries_offer: bool


@dataclass(slots=True)
class _SessionTimerState:
    interval: int
    we_refresh: bool


class InviteSession(Usage):
    """One call: a client (``create_uac``) or server (from ``invite_factory``) INVITE session.

    Every application method takes ``now`` last and queues output through the
    host; ``LocalProtocolError`` means the call makes no sense in this state.
    """

    def __init__(self, host: UsageHost, usage_id: int, *, uas_policy: InvitePolicy | None = None,
                 refusal: tuple[int, str | None] | None = None,
                 refusal_reason: str | None = None, replaces: int | None = None) -> None:
        super().__init__(host, usage_id)
        self.is_uac = uas_policy is None
        self.state = SessionState.INCOMING
        self.offer_answer = OfferAnswer()
        self.dialog_id: DialogId | None = None
        self.targets: list[Destination] = []
        self.timer_config = uas_policy.session_timer if uas_policy else SessionTimerConfig()
        self.reliable_mode = uas_policy.reliable if uas_policy else ReliableProvisional.NEVER
        self.contact: NameAddr | None = uas_policy.contact if uas_policy else None
        self.dropped = 0
        "Wire inputs that made no sense in the current state (dropped, counted)."
        self.peer_allow: frozenset[str] = frozenset()
        self.peer_supported: frozenset[str] = frozenset()
        self._refusal = refusal
        self._refusal_reason = refusal_reason
        self.replaces = replaces
        "The session id of the call this incoming one replaces (RFC 3891), or None."
        self.extensions: list[DialogExtension] = []
        "Offered the in-dialog requests the session does not handle itself."
        self._terminated_reason: TerminationReason | None = None
        # UAC
        self._invite: Request | None = None
        self._invite_key: TransactionKey | None = None
        self._provisional_seen = False
        self._cancel_wanted = False
        self._answered_early = False
        self._last_rseq: int | None = None
        self._prack_owed: tuple[Response, RAck] | None = None
        self._ack_owed: tuple[Dialog, int] | None = None
        self._digest: DigestClient | None = None
        self.credentials: Credentials | None = None
        "Answer 401/407 to this call's requests with these (``set_credentials``)."
        self._auth_tries = 0
        self._extra_headers: tuple[tuple[str, str], ...] = ()
        self._session_expires: int | None = None
        # UAS
        self._server_invite: RequestReceived | None = None
        self._unacked_1xx: _Reliable1xx | None = None
        self._queued_1xx: list[tuple[Response, bool]] = []
        self._deferred_2xx: Response | None = None
        self._bye_after_ack = False
        self._next_rseq: int | None = None
        self._final_sent = False
        # re-INVITE
        self._reinvite_key: TransactionKey | None = None
        self._reinvite_body: Body | None = None
        self._reinvite_is_refresh = False
        self._reinvite_in: RequestReceived | None = None
        self._reinvite_in_answered_cseq: int | None = None
        self._glare_pending = False
        # session timer, BYE, misc client transactions
        self._timer: _SessionTimerState | None = None
        self._bye_key: TransactionKey | None = None
        self._info_keys: set[TransactionKey] = set()
        self._info_authorized: set[TransactionKey] = set()  # INFOs already resent with auth
        self._refresh_keys: set[TransactionKey] = set()

    @property
    def initial_invite(self) -> Request | None:
        """The INVITE that started the session (sent as UAC, received as UAS)."""
        if self._invite is not None:
            return self._invite
        return self._server_invite.request if self._server_invite is not None else None

    # ====================================================================================
    # creation
    # ====================================================================================

    @classmethod
    def create_uac(
        cls,
        manager: UsageManager,
        *,
        request_uri: str,
        from_: NameAddr,
        to: NameAddr,
        contact: NameAddr,
        targets: Sequence[Destination],
        body: bytes | None = None,
        content_type: str = SDP,
        extra_headers: Sequence[tuple[str, str]] = (),
        credentials: Credentials | None = None,
        session_timer: SessionTimerConfig | None = None,
        reliable: ReliableProvisional = ReliableProvisional.NEVER,
        now: float,
    ) -> InviteSession:
        """Start a call (the manual's ``call``): build and send the INVITE. Queues output.

        Args:
            manager: the usage manager that hosts the session.
            request_uri: whom to call.
            from_: our identity (a tag is added).
            to: the callee's identity.
            contact: our Contact.
            targets: where to send it, in failover order (resolved by the api).
            body: our offer, or None to let the callee offer (sendSdp=false).
            content_type: the body's type.
            extra_headers: more headers for the INVITE (addSipMessageHeader).
            credentials: answer 401/407 with these (RFC 3261 §22.2).
            session_timer: RFC 4028 settings.
            reliable: setReliableProvisional mode (1-2: Supported, 3: Require 100rel).
        """
        session = cls(manager, manager.new_usage_id())
        session.is_uac = True
        session.state = SessionState.CALLING
        session.targets = list(targets)
        session.contact = contact
        session.timer_config = session_timer or SessionTimerConfig()
        session.reliable_mode = reliable
        session._extra_headers = tuple(extra_headers)
        if credentials is not None:
            session.set_credentials(credentials)
        tagged = NameAddr(from_.uri, from_.display_name, dict(from_.params))
        tagged.tag = manager.ids.tag()
        invite = Request("INVITE", parse_uri(request_uri), from_=tagged,
                         to=NameAddr(to.uri, to.display_name, dict(to.params)),
                         call_id=manager.ids.call_id(),
                         cseq=CSeq(manager.ids.cseq_start(), "INVITE"), contact=[contact])
        for name, value in extra_headers:
            invite.headers.add(name, value)
        session._decorate_request(invite, initial=True)
        if body is not None:
            offer = Body(body, content_type)
            session.offer_answer.send_offer(offer)
            invite.body, invite.content_type = body, content_type
        session._session_expires = (session.timer_config.interval
                                    if session.timer_config.enabled else None)
        session._add_session_expires(invite)
        manager.add(session)
        session._invite = invite
        session._invite_key = manager.send_request_for(session, invite, session.targets, now=now)
        return session

    # ====================================================================================
    # core events
    # ====================================================================================

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        if self.state is SessionState.TERMINATED:
            self.dropped += 1
            return
        if isinstance(event, ResponseReceived):
            self._on_response(event, now=now)
        elif isinstance(event, RequestReceived):
            if event.dialog is None and event.request.method == "INVITE":
                self._on_new_invite(event, now=now)
            else:
                self._on_in_dialog_request(event, now=now)
        elif isinstance(event, AckReceived):
            self._on_ack(event, now=now)
        elif isinstance(event, CancelReceived):
            self._on_cancel_received(event, now=now)
        elif isinstance(event, TransactionTimedOut | TransportFailed):
            self._on_failure(event, now=now)
        elif isinstance(event, AckTimedOut):
            if self._bye_after_ack or self.state is SessionState.ACCEPTED:
                self._send_bye(now=now)
                self._terminate(TerminationReason.ACK_TIMEOUT)
        elif isinstance(event, DialogTerminated):
            pass  # the core's bookkeeping; the session ends through the messages themselves

    # --- UAC responses -------------------------------------------------------------------

    def _on_response(self, event: ResponseReceived, *, now: float) -> None:
        key, response = event.transaction, event.response
        method = response.cseq.method
        if key == self._invite_key:
            self._on_invite_response(event, now=now)
        elif key == self._reinvite_key:
            self._on_reinvite_response(event, now=now)
        elif key == self._bye_key and response.status >= 200:
            # a plain hang-up carries the BYE's final status (200, 481 ...): a REFER with
            # method=BYE reports it to the referrer
            if self._terminated_reason is None:
                self._terminate(TerminationReason.BYE_LOCAL, response.status)
            else:
                self._terminate(self._terminated_reason)
        elif key in self._info_keys and response.status >= 200:
            self._info_keys.discard(key)
            authorized = key in self._info_authorized
            self._info_authorized.discard(key)
            if response.status in (401, 407):
                if not authorized and self._resend_with_auth(event, now=now):
                    return
            elif self._digest is not None:
                self._digest.accepted()
            self.host.emit(InfoResponded(self.id, response.status, response))
        elif key in self._refresh_keys and response.status >= 200:
            self._refresh_keys.discard(key)
            self._on_refresh_response(response, now=now)
        elif method in ("CANCEL", "PRACK", "ACK") or response.status < 200:
            pass
        else:
            self.dropped += 1

    def _on_invite_response(self, event: ResponseReceived, *, now: float) -> None:
        response = event.response
        status = response.status
        if status < 200:
            self._on_invite_provisional(event, now=now)
            return
        if status not in (401, 407) and self._digest is not None:
            # the credentials (if sent) worked: a later challenge to an in-call request
            # (INFO) in the same realm is answered, not taken for a refusal
            self._digest.accepted()
        if status < 300:
            self._on_invite_2xx(event, now=now)
            return
        if self.state not in (SessionState.CALLING, SessionState.CANCELLING):
            self.dropped += 1
            return
        kind = classify(response, self.offer_answer.state, reliable=False)
        if kind is InviteInput.AUTH and self._retry_with_credentials(event, now=now):
            return
        if kind is InviteInput.TOO_SMALL and self._retry_with_min_se(event, now=now):
            return
        cancelled = self.state is SessionState.CANCELLING
        self.host.emit(Failed(self.id, status, response.reason, response))
        self._terminate(TerminationReason.CANCELLED if cancelled and status == 487
                        else TerminationReason.REJECTED, status)

    def _on_invite_provisional(self, event: ResponseReceived, *, now: float) -> None:
        response = event.response
        if self.state not in (SessionState.CALLING, SessionState.CANCELLING):
            self.dropped += 1
            return
        if response.status == 100:
            self.host.emit(TryingReceived(self.id, response))
        else:
            if event.dialog is not None and self.dialog_id is None:
                self.dialog_id = event.dialog
                self.host.bind_dialog(self, event.dialog)
            rseq = parse_rseq(response)
            reliable = "100rel" in option_tags(response, "Require") and rseq is not None
            if reliable:
                assert rseq is not None
                if self._last_rseq is not None and rseq <= self._last_rseq:
                    return  # RFC 3262 §4: a retransmission (our PRACK is on its way)
                self._last_rseq = rseq
            kind = classify(response, self.offer_answer.state, reliable=reliable)
            body = _body_of(response)
            if kind is InviteInput.PROVISIONAL_ANSWER and body is not None:
                self.offer_answer.receive_answer(body)
                self._answered_early = True
                self.host.emit(AnswerReceived(self.id, body, response))
            elif kind is InviteInput.PROVISIONAL_OFFER and body is not None:
                self.offer_answer.receive_offer(body)
                self._answered_early = True
            early = kind in (InviteInput.PROVISIONAL_ANSWER, InviteInput.PROVISIONAL_PREVIEW)
            self.host.emit(ProgressReceived(self.id, response.status, response.reason, body,
                                            early, reliable, response))
            if reliable and rseq is not None:
                rack = RAck(rseq, response.cseq.seq, "INVITE")
                if kind is InviteInput.PROVISIONAL_OFFER and body is not None:
                    self._prack_owed = (response, rack)  # the answer goes in the PRACK
                    self.host.emit(OfferReceived(self.id, body, response))
                else:
                    self._send_prack(event.dialog, rack, None, now=now)
        self._provisional_seen = True
        if self._cancel_wanted and self.state is SessionState.CANCELLING:
            self._send_cancel(now=now)  # hangUp came before any provisional (§9.1)

    def _on_invite_2xx(self, event: ResponseReceived, *, now: float) -> None:
        response = event.response
        dialog = self.host.core.dialog(event.dialog) if event.dialog is not None else None
        if dialog is None:
            self.dropped += 1
            return
        if self.dialog_id is not None and event.dialog != self.dialog_id and \
                self.state is not SessionState.CALLING and self.state is not \
                SessionState.CANCELLING:
            # RFC 3261 §13.2.2.4: a second fork answered; ACK it and hang it up.
            self._ack_and_bye(dialog, response, now=now)
            return
        if self.state not in (SessionState.CALLING, SessionState.CANCELLING):
            self.dropped += 1  # a retransmission while we wait for provide_answer
            return
        if self.dialog_id != event.dialog:
            if self.dialog_id is not None:
                pass  # the early dialog of another fork; the answering one wins
            self.dialog_id = dialog.id
            self.host.bind_dialog(self, dialog.id)
        self.peer_allow = _allow_of(response) or self.peer_allow
        self.peer_supported = option_tags(response, "Supported")
        if self.state is SessionState.CANCELLING:
            # RFC 3261 §9.1 race: the 2xx beat the CANCEL; confirm, then hang up.
            self._send_ack(dialog, response.cseq.seq, None, now=now)
            self.state = SessionState.CONFIRMED
            self._terminated_reason = TerminationReason.CANCELLED
            self._send_bye(now=now)
            return
        kind = _classify_initial_2xx(response, self.offer_answer.state, self._answered_early)
        body = _body_of(response)
        self.state = SessionState.ACCEPTED
        self.host.emit(Answered(self.id, body, response))
        if kind is InviteInput.SUCCESS_ANSWER and body is not None:
            self.offer_answer.receive_answer(body)
            self.host.emit(AnswerReceived(self.id, body, response))
        elif kind is InviteInput.SUCCESS_MISSING_ANSWER:
            self._send_ack(dialog, response.cseq.seq, None, now=now)
            self.state = SessionState.CONFIRMED
            self._terminated_reason = TerminationReason.PROTOCOL
            self._send_bye(now=now)
            return
        elif kind is InviteInput.SUCCESS_OFFER and body is not None:
            self.offer_answer.receive_offer(body)
            self._ack_owed = (dialog, response.cseq.seq)
            self._start_session_timer_from(response, we_are_uac=True, now=now)
            self.host.emit(OfferReceived(self.id, body, response))
            return
        self._start_session_timer_from(response, we_are_uac=True, now=now)
        self._send_ack(dialog, response.cseq.seq, None, now=now)
        self._connected(now=now)

    def _connected(self, *, now: float) -> None:
        self.state = SessionState.CONFIRMED
        self.host.emit(Connected(self.id))
        if self._bye_after_ack:
            self._send_bye(now=now)

    # --- retries of the initial INVITE ------------------------------------------------

    def _resend_invite(self, changes: Sequence[tuple[str, str]], *, now: float) -> None:
        assert self._invite is not None
        old = self._invite
        invite = Request("INVITE", old.uri, from_=old.from_, to=old.to, call_id=old.call_id,
                         cseq=CSeq(old.cseq.seq + 1, "INVITE"), contact=old.contact,
                         route=old.route, headers=old.headers.copy(), body=old.body,
                         content_type=old.content_type)
        for name, value in changes:
            invite.headers.set(name, value)
        self._invite = invite
        self._provisional_seen = False
        self._invite_key = self.host.send_request_for(self, invite, self.targets, now=now)

    def _retry_with_credentials(self, event: ResponseReceived, *, now: float) -> bool:
        response = event.response
        if self._digest is None or self._auth_tries >= 2 or self._invite is None:
            return False
        header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        try:
            answer = self._digest.answer(response.status, response.headers.getall(header),
                                         method="INVITE", uri=str(self._invite.uri),
                                         body=self._invite.body)
        except AuthError:
            return False
        if answer is None:
            return False
        self._auth_tries += 1
        self._resend_invite([answer], now=now)
        return True

    def set_credentials(self, credentials: Credentials | None) -> None:
        """Answer 401/407 to this call's requests (INVITE, INFO; the REFER and MESSAGE
        usages sent in its dialog read ``credentials``) with ``credentials``."""
        self.credentials = credentials
        self._digest = (DigestClient(credentials, cnonce=self.host.ids.token)
                        if credentials is not None else None)

    def answer_challenge(self, response: Response, request: Request) -> tuple[str, str] | None:
        """The Authorization / Proxy-Authorization header that answers ``response``
        (401/407 to ``request``, a request in this call), or None: no credentials, an
        unanswerable challenge, or credentials already refused (RFC 3261 §22.2-§22.3)."""
        if self._digest is None:
            return None
        header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        try:
            return self._digest.answer(response.status, response.headers.getall(header),
                                       method=request.method, uri=str(request.uri),
                                       body=request.body)
        except AuthError:
            return None

    def _resend_with_auth(self, event: ResponseReceived, *, now: float) -> bool:
        """Resend a challenged in-dialog INFO once, with a new CSeq and the answer."""
        answer = self.answer_challenge(event.response, event.request)
        if answer is None or self.dialog_id is None or self.host.core.dialog(
                self.dialog_id) is None:
            return False
        original = event.request
        request = self._in_dialog_request(original.method)
        request.body, request.content_type = original.body, original.content_type
        for name, value in original.headers:
            if name.lower() not in ("authorization", "proxy-authorization", "content-type"):
                request.headers.add(name, value)
        request.headers.add(*answer)
        key = self.host.send_request_for(self, request, self.targets, now=now)
        self._info_keys.add(key)
        self._info_authorized.add(key)
        return True

    def _retry_with_min_se(self, event: ResponseReceived, *, now: float) -> bool:
        # RFC 4028 §7.4: retry with Session-Expires no smaller than the 422's Min-SE.
        min_se = parse_min_se(event.response)
        if min_se is None or self._session_expires is None or min_se <= self._session_expires:
            return False
        self._session_expires = min_se
        refresher = self.timer_config.refresher
        self._resend_invite([("Session-Expires", str(SessionExpires(min_se, refresher))),
                             ("Min-SE", str(min_se))], now=now)
        return True

    # --- UAS: the new INVITE ------------------------------------------------------------

    def _on_new_invite(self, event: RequestReceived, *, now: float) -> None:
        request = event.request
        self._server_invite = event
        self.state = SessionState.INCOMING
        self.targets = [Destination(event.transport, event.source[0], event.source[1])]
        self.peer_allow = _allow_of(request)
        self.peer_supported = option_tags(request, "Supported")
        if self._refusal is not None:
            status, target = self._refusal
            if target is not None:
                self.forward(target, now=now)
            else:
                reason = self._refusal_reason
                self._respond_final(status, reason[:120] if reason else None, now=now)
                self.host.emit(AutoRejected(self.id, status, request, reason or ""))
                self._terminate(TerminationReason.REJECTED, status)
            return
        peer_rel = option_tags(request, "Supported") | option_tags(request, "Require")
        if self.reliable_mode is ReliableProvisional.REQUIRED and "100rel" not in peer_rel:
            # RFC 3262 §3: "it SHOULD reject the request with a 421 (Extension Required)"
            response = self.host.core.create_response(request, 421)
            response.headers.set("Require", "100rel")
            self._final(response, now=now)
            self._terminate(TerminationReason.REJECTED, 421)
            return
        if not self._check_session_interval(request, event, now=now):
            return
        body = _body_of(request)
        if body is not None:
            self.offer_answer.receive_offer(body)
        self.host.emit(InviteReceived(self.id, request, body, self.replaces))

    def _check_session_interval(self, request: Request, event: RequestReceived, *,
                                now: float) -> bool:
        """RFC 4028 §8.1: a Session-Expires below our Min-SE gets 422 with our Min-SE."""
        requested = parse_session_expires(request)
        if requested is None or requested.interval >= self.timer_config.min_se:
            return True
        response = self.host.core.create_response(request, 422)
        response.headers.set("Min-SE", str(self.timer_config.min_se))
        self.host.send_response_for(self, response, now=now)
        if request.to.tag is None:
            self._final_sent = True
            self._terminate(TerminationReason.REJECTED, 422)
        return False

    # ====================================================================================
    # application methods: callee
    # ====================================================================================

    def ring(self, body: bytes | None = None, *, content_type: str = SDP, status: int = 180,
             reliable: bool | None = None, now: float) -> None:
        """Send a provisional response: 180 Ringing, or 183 with early media. Queues output.

        Args:
            body: early media (the answer to the caller's offer, or our offer when
                the INVITE had none — that one must be reliable).
            status: 180-199.
            reliable: force RFC 3262 reliability on or off; None applies the
                setReliableProvisional mode and the caller's Supported/Require.
        """
        self._require_state(SessionState.INCOMING, "ring")
        if not 101 <= status <= 199:
            raise LocalProtocolError(f"ring() sends 101-199, not {status}")
        request = self._invite_request()
        response = self._uas_response(request, status)
        peer = option_tags(request, "Supported") | option_tags(request, "Require")
        if reliable is None:
            reliable = ("100rel" in option_tags(request, "Require")
                        or (self.reliable_mode is ReliableProvisional.REQUIRED)
                        or (self.reliable_mode is ReliableProvisional.SUPPORTED
                            and "100rel" in peer)
                        or (self.reliable_mode is ReliableProvisional.SUPPORTED_ESSENTIAL
                            and body is not None and "100rel" in peer))
        if reliable and "100rel" not in peer:
            raise LocalProtocolError("the caller does not support 100rel")
        if body is not None:
            response.body, response.content_type = body, content_type
            if self.offer_answer.state is OfferState.STABLE and not reliable \
                    and not self.offer_answer.negotiated:
                raise LocalProtocolError("an offer in a 1xx must be sent reliably")
        if reliable:
            if self._unacked_1xx is not None:
                self._queued_1xx.append((response, True))
                return
            self._send_reliable(response, now=now)
        else:
            self._send_provisional(response, now=now)

    def _send_provisional(self, response: Response, *, now: float) -> None:
        self.host.send_response_for(self, response, now=now)
        self._bind_uas_dialog(response)

    def _send_reliable(self, response: Response, *, now: float) -> None:
        if self._next_rseq is None:
            self._next_rseq = self.host.ids.cseq_start()
        rseq = self._next_rseq
        self._next_rseq += 1
        response.headers.set("Require", "100rel")
        response.headers.set("RSeq", str(rseq))
        carries_offer = False
        body = _body_of(response)
        if body is not None:
            if self.offer_answer.state is OfferState.OFFER_RECEIVED:
                self.offer_answer.send_answer(body)
            elif self.offer_answer.state is OfferState.STABLE and \
                    not self.offer_answer.negotiated:
                self.offer_answer.send_offer(body)
                carries_offer = True
        t1 = self.host.core.config.timers.t1
        self._unacked_1xx = _Reliable1xx(response, rseq, now, t1, carries_offer)
        self._send_provisional(response, now=now)
        self.host.schedule(self, ("rel1xx", rseq), now + t1)

    def accept(self, body: bytes | None = None, *, content_type: str = SDP, now: float) -> None:
        """Answer the call with 200 OK (answerCall). Queues output.

        ``body`` is the answer to the caller's offer or, when the INVITE had none,
        our offer (the answer comes in the ACK). While a reliable 1xx is
        unacknowledged the 200 waits for its PRACK (RFC 3262 §3).
        """
        self._require_state(SessionState.INCOMING, "accept")
        request = self._invite_request()
        response = self._uas_response(request, 200)
        oa = self.offer_answer
        if oa.state is OfferState.OFFER_RECEIVED:
            if body is None:
                raise LocalProtocolError("the caller made an offer; accept() needs the answer")
            oa.send_answer(Body(body, content_type))
        elif oa.state is OfferState.STABLE and not oa.negotiated:
            if body is None:
                raise LocalProtocolError("the INVITE had no offer; accept() needs our offer")
            oa.send_offer(Body(body, content_type))
        if body is not None:
            response.body, response.content_type = body, content_type
        self._add_uas_session_timer(request, response, now=now)
        response.headers.set("Allow", ", ".join(self.host.core.config.allow))
        self.state = SessionState.ACCEPTED
        if self._unacked_1xx is not None:
            self._deferred_2xx = response
            return
        self._final(response, now=now)
        self._bind_uas_dialog(response)

    def reject(self, status: int = 486, reason: str | None = None, *,
               contact: NameAddr | None = None, now: float) -> None:
        """Refuse the call with a 3xx-6xx (rejectCall). Queues output; the session ends."""
        self._require_state(SessionState.INCOMING, "reject")
        if not 300 <= status <= 699:
            raise LocalProtocolError(f"reject() sends 300-699, not {status}")
        self._respond_final(status, reason, contact=contact, now=now)
        self._terminate(TerminationReason.REJECTED, status)

    def forward(self, target: str, *, now: float) -> None:
        """Redirect the call: 302 Moved Temporarily with ``target`` as Contact (forwardCall)."""
        self._require_state(SessionState.INCOMING, "forward")
        contact = NameAddr(parse_uri(target))
        self._respond_final(302, None, contact=contact, now=now)
        self.host.emit(Forwarded(self.id, target, self._invite_request()))
        self._terminate(TerminationReason.FORWARDED, 302)

    def _respond_final(self, status: int, reason: str | None, *,
                       contact: NameAddr | None = None, now: float) -> None:
        response = self.host.core.create_response(self._invite_request(), status, reason,
                                                  contact=contact)
        self._final(response, now=now)

    def _final(self, response: Response, *, now: float) -> None:
        self._final_sent = True
        if self._unacked_1xx is not None:
            self.host.cancel_timer(self, ("rel1xx", self._unacked_1xx.rseq))
            self._unacked_1xx = None
        self.host.send_response_for(self, response, now=now)

    def _uas_response(self, request: Request, status: int) -> Response:
        contact = self.contact or NameAddr(request.uri)
        return self.host.core.create_response(request, status, contact=contact)

    def _bind_uas_dialog(self, response: Response) -> None:
        request = self._invite_request()
        if self.dialog_id is None and response.to.tag is not None:
            self.dialog_id = DialogId(request.call_id, response.to.tag, request.from_.tag or "")
            self.host.bind_dialog(self, self.dialog_id)

    def _invite_request(self) -> Request:
        if self._server_invite is None:
            raise LocalProtocolError("this session did not receive an INVITE")
        return self._server_invite.request

    # ====================================================================================
    # application methods: both sides
    # ====================================================================================

    def cancel(self, *, now: float) -> None:
        """CANCEL our INVITE before its final response (RFC 3261 §9.1). Queues output.

        The CANCEL waits for the first provisional response ("a CANCEL request
        SHOULD NOT be sent to cancel an INVITE until a provisional response has
        been received"). If the 2xx wins the race, we ACK it and send BYE.
        """
        if not self.is_uac or self.state is not SessionState.CALLING:
            raise LocalProtocolError(f"cannot cancel in state {self.state.name}")
        self.state = SessionState.CANCELLING
        self._cancel_wanted = True
        if self._provisional_seen:
            self._send_cancel(now=now)

    def _send_cancel(self, *, now: float) -> None:
        self._cancel_wanted = False
        if self._invite_key is not None:
            # the INVITE may have completed meanwhile: its final response decides
            with contextlib.suppress(LocalProtocolError):
                self.host.cancel(self, self._invite_key, now=now)

    def hangup(self, *, now: float) -> None:
        """End the call however its state requires (hangUp). Queues output.

        Caller before the answer: CANCEL. Callee before answering: 480 (as DUM's
        ``end()``). Callee after the 2xx but before the ACK: BYE once the ACK
        arrives (RFC 3261 §15). Confirmed: BYE.
        """
        state = self.state
        if state is SessionState.CALLING:
            self.cancel(now=now)
        elif state is SessionState.INCOMING:
            self.reject(480, now=now)
        elif state is SessionState.ACCEPTED and not self.is_uac:
            self._bye_after_ack = True
        elif state is SessionState.ACCEPTED and self._ack_owed is not None:
            dialog, cseq = self._ack_owed
            self._ack_owed = None
            self._send_ack(dialog, cseq, None, now=now)
            self.state = SessionState.CONFIRMED
            self._send_bye(now=now)
        elif state is SessionState.CONFIRMED:
            self._send_bye(now=now)
        elif state is SessionState.CANCELLING or state is SessionState.TERMINATING:
            return
        else:
            raise LocalProtocolError(f"cannot hang up in state {state.name}")

    def provide_answer(self, body: bytes, *, content_type: str = SDP, now: float) -> None:
        """Answer the peer's outstanding offer. Queues output.

        The answer goes where RFC 3264 puts it: the ACK (offer in a 2xx), the
        PRACK (offer in a reliable 1xx), or the 200 to a re-INVITE.
        """
        answer = Body(body, content_type)
        if self._prack_owed is not None:
            response, rack = self._prack_owed
            self._prack_owed = None
            self.offer_answer.send_answer(answer)
            dialog_id = DialogId.of_received_response(response)
            self._send_prack(dialog_id, rack, answer, now=now)
        elif self._ack_owed is not None:
            dialog, cseq = self._ack_owed
            self._ack_owed = None
            self.offer_answer.send_answer(answer)
            self._send_ack(dialog, cseq, answer, now=now)
            if self._reinvite_key is not None:
                remote = self.offer_answer.remote
                self._reinvite_key = None
                self.host.emit(Updated(self.id, True, remote, self._last_2xx_or_ack()))
            else:
                self._connected(now=now)
        elif self._reinvite_in is not None:
            self.offer_answer.send_answer(answer)
            self._answer_reinvite(answer, now=now)
        else:
            raise LocalProtocolError("no offer is waiting for an answer")

    def provide_offer(self, body: bytes, *, content_type: str = SDP, now: float) -> None:
        """Offer in the 200 to the peer's offerless re-INVITE; the answer comes in the ACK."""
        if self._reinvite_in is None or self.offer_answer.state is not OfferState.STABLE:
            raise LocalProtocolError("no offerless re-INVITE is waiting for an offer")
        offer = Body(body, content_type)
        self.offer_answer.send_offer(offer)
        self._answer_reinvite(offer, now=now)

    def reject_update(self, status: int = 488, *, now: float) -> None:
        """Refuse the peer's re-INVITE (488 Not Acceptable Here by default); the call goes on."""
        event = self._reinvite_in
        if event is None:
            raise LocalProtocolError("no re-INVITE to reject")
        self._reinvite_in = None
        if self.offer_answer.state is OfferState.OFFER_RECEIVED:
            self.offer_answer.rollback()
        self.host.send_response_for(self, self.host.core.create_response(event.request, status),
                                now=now)

    def update(self, body: bytes | None, *, content_type: str = SDP, now: float) -> None:
        """Send a re-INVITE (updateCall, hold, unHold): ``body`` is our new offer. Queues output.

        With ``body=None`` the re-INVITE is offerless and the peer's 2xx offers
        (``OfferReceived``; answer with ``provide_answer``). A 491 is retried
        after the RFC 3261 §14.1 back-off.
        """
        if self.state is not SessionState.CONFIRMED:
            raise LocalProtocolError(f"cannot re-INVITE in state {self.state.name}")
        if self._reinvite_key is not None or self._reinvite_in is not None or \
                self._glare_pending or self._ack_owed is not None:
            raise LocalProtocolError("a re-INVITE is already in progress")
        self._reinvite_body = Body(body, content_type) if body is not None else None
        self._reinvite_is_refresh = False
        self._send_reinvite(now=now)

    def send_info(self, body: bytes, content_type: str, *,
                  extra_headers: Sequence[tuple[str, str]] = (), now: float) -> None:
        """Send an in-dialog INFO (sendInfo, DTMF via INFO). Queues output.

        ``InfoResponded`` reports the result.
        """
        request = self._in_dialog_request("INFO")
        request.body, request.content_type = body, content_type
        for name, value in extra_headers:
            request.headers.add(name, value)
        self._info_keys.add(self.host.send_request_for(self, request, self.targets, now=now))

    def respond(self, event: InfoReceived, status: int, reason: str | None = None, *,
                now: float) -> None:
        """Answer an ``InfoReceived`` (200 to accept, 415 for an unknown package ...)."""
        response = self.host.core.create_response(event.request, status, reason)
        self.host.send_response_for(self, response, now=now)

    def add_extension(self, extension: DialogExtension) -> None:
        """Offer ``extension`` the in-dialog requests the session does not handle."""
        if extension not in self.extensions:
            self.extensions.append(extension)

    def retarget(self, targets: Sequence[Destination]) -> None:
        """Send later in-dialog requests to ``targets`` (after the api resolved a new target)."""
        if not targets:
            raise LocalProtocolError("retarget needs at least one destination")
        self.targets = list(targets)

    # ====================================================================================
    # in-dialog machinery
    # ====================================================================================

    def _dialog(self) -> Dialog:
        dialog = self.host.core.dialog(self.dialog_id) if self.dialog_id else None
        if dialog is None:
            raise LocalProtocolError("the session has no dialog")
        return dialog

    def _in_dialog_request(self, method: str) -> Request:
        dialog = self._dialog()
        request = dialog.create_request(method, cseq_start=self.host.ids.cseq_start())
        return request

    def _send_ack(self, dialog: Dialog, cseq: int, body: Body | None, *, now: float) -> None:
        ack = dialog.create_request("ACK", cseq=cseq)
        if body is not None:
            ack.body, ack.content_type = body.data, body.content_type
        self.host.send_request_for(self, ack, self.targets, now=now)

    def _ack_and_bye(self, dialog: Dialog, response: Response, *, now: float) -> None:
        self._send_ack(dialog, response.cseq.seq, None, now=now)
        bye = dialog.create_request("BYE")
        self.host.send_request_for(self, bye, self.targets, now=now)

    def _send_prack(self, dialog_id: DialogId | None, rack: RAck, body: Body | None, *,
                    now: float) -> None:
        dialog = self.host.core.dialog(dialog_id) if dialog_id is not None else None
        if dialog is None:
            self.dropped += 1
            return
        prack = dialog.create_request("PRACK")
        prack.headers.set("RAck", str(rack))
        if body is not None:
            prack.body, prack.content_type = body.data, body.content_type
        self.host.send_request_for(self, prack, self.targets, now=now)

    def _send_bye(self, *, now: float) -> None:
        if self._bye_key is not None:
            return
        bye = self._in_dialog_request("BYE")
        self.state = SessionState.TERMINATING
        self._cancel_session_timers()
        self._bye_key = self.host.send_request_for(self, bye, self.targets, now=now)

    def _send_reinvite(self, *, now: float) -> None:
        request = self._in_dialog_request("INVITE")
        self._decorate_request(request, initial=False)
        body = self._reinvite_body
        if body is not None:
            self.offer_answer.send_offer(body)
            request.body, request.content_type = body.data, body.content_type
        if self._timer is not None:
            refresher = Refresher.UAC if self._timer.we_refresh else Refresher.UAS
            request.headers.set("Session-Expires",
                                str(SessionExpires(self._timer.interval, refresher)))
            request.headers.set("Min-SE", str(self.timer_config.min_se))
        self._reinvite_key = self.host.send_request_for(self, request, self.targets, now=now)

    def _on_reinvite_response(self, event: ResponseReceived, *, now: float) -> None:
        response = event.response
        if response.status < 200:
            return
        dialog = self.host.core.dialog(self.dialog_id) if self.dialog_id else None
        if 200 <= response.status < 300:
            if dialog is None:
                self.dropped += 1
                return
            kind = classify(response, self.offer_answer.state, reliable=False)
            body = _body_of(response)
            refresh = self._reinvite_is_refresh
            if self._timer is not None:
                self._start_session_timer_from(response, we_are_uac=True, now=now,
                                               refreshed=True)
            if kind is InviteInput.SUCCESS_ANSWER and body is not None:
                self.offer_answer.receive_answer(body)
            elif body is not None and self.offer_answer.state is OfferState.STABLE:
                self.offer_answer.receive_offer(body)
                self._ack_owed = (dialog, response.cseq.seq)
                self._last_message: Request | Response = response
                self.host.emit(OfferReceived(self.id, body, response))
                return
            elif kind is InviteInput.SUCCESS_MISSING_ANSWER:
                self.offer_answer.rollback()
            self._send_ack(dialog, response.cseq.seq, None, now=now)
            self._reinvite_key = None
            if not refresh:
                self.host.emit(Updated(self.id, True, body, response))
            return
        kind = classify(response, self.offer_answer.state, reliable=False)
        if self.offer_answer.state is OfferState.OFFER_SENT:
            self.offer_answer.rollback()
        self._reinvite_key = None
        if kind is InviteInput.GLARE:
            owner = bool(self.is_uac)  # the caller generated the Call-ID
            at = now + glare_delay(self.host.ids.token(2), owner=owner)
            self._glare_pending = True
            self.host.schedule(self, "glare", at)
            self.host.emit(GlareRetryScheduled(self.id, at))
        elif kind is InviteInput.TOO_SMALL and self._timer is not None:
            min_se = parse_min_se(response)
            if min_se is not None and min_se > self._timer.interval:
                self._timer.interval = min_se
                self._send_reinvite(now=now)
        elif kind is InviteInput.DIALOG_GONE:
            # RFC 3261 §14.1: "If a UAC receives a 481 or 408 to a re-INVITE, it MUST
            # terminate the dialog"; after a 408 the dialog may still exist at the peer.
            if response.status == 408:
                self._terminated_reason = TerminationReason.TIMEOUT
                self._send_bye(now=now)
            else:
                self._terminate(TerminationReason.TIMEOUT, response.status)
        else:
            self.host.emit(UpdateFailed(self.id, response.status, response.reason))

    def _last_2xx_or_ack(self) -> Request | Response:
        return self._last_message

    def _answer_reinvite(self, body: Body, *, now: float) -> None:
        event = self._reinvite_in
        assert event is not None
        response = self._uas_response(event.request, 200)
        response.body, response.content_type = body.data, body.content_type
        self._add_uas_session_timer(event.request, response, now=now)
        self._reinvite_in_answered_cseq = event.request.cseq.seq
        self.host.send_response_for(self, response, now=now)

    # --- incoming in-dialog requests -------------------------------------------------

    def _on_in_dialog_request(self, event: RequestReceived, *, now: float) -> None:
        request = event.request
        method = request.method
        core = self.host.core
        if method == "BYE":
            self.host.send_response_for(self, core.create_response(request, 200), now=now)
            if self.state is SessionState.TERMINATING:
                return  # BYEs crossed: ours completes the session
            if self.state is SessionState.INCOMING and not self._final_sent:
                self._respond_final(487, None, now=now)
            pending = self._reinvite_in
            if (pending is not None
                    and self._reinvite_in_answered_cseq != pending.request.cseq.seq):
                # a re-INVITE still unanswered when the BYE came (RFC 3261 §15.1.2)
                self.host.send_response_for(
                    self, core.create_response(pending.request, 487), now=now)
            self._reinvite_in = None
            self._terminate(TerminationReason.BYE_REMOTE)
        elif method == "INVITE":
            self._on_reinvite(event, now=now)
        elif method == "UPDATE":
            self._on_update(event, now=now)
        elif method == "PRACK":
            self._on_prack(event, now=now)
        elif method == "INFO":
            self.host.emit(InfoReceived(self.id, request, event.transaction,
                                        _body_of(request)))
        elif method == "OPTIONS":
            response = core.create_response(request, 200)
            response.headers.set("Allow", ", ".join(core.config.allow))
            self.host.send_response_for(self, response, now=now)
        elif any(ext.on_request(self, event, now=now) for ext in list(self.extensions)):
            return
        else:
            response = core.create_response(request, 405)
            response.headers.set("Allow", ", ".join(core.config.allow))
            self.host.send_response_for(self, response, now=now)

    def _on_reinvite(self, event: RequestReceived, *, now: float) -> None:
        request = event.request
        core = self.host.core
        if self._reinvite_key is not None or self.offer_answer.state is not OfferState.STABLE \
                or self._ack_owed is not None:
            # RFC 3261 §14.2: "A UAS that receives an INVITE on a dialog while an INVITE
            # it had sent on that dialog is in progress MUST return a 491".
            self.host.send_response_for(self, core.create_response(request, 491), now=now)
            return
        if self._reinvite_in is not None or self.state is not SessionState.CONFIRMED:
            # §14.2: a second INVITE before our final response to the first: 500 + Retry-After.
            response = core.create_response(request, 500)
            response.headers.set("Retry-After", str(int(self.host.ids.token(1), 16) % 11))
            self.host.send_response_for(self, response, now=now)
            return
        if not self._check_session_interval(request, event, now=now):
            return
        self.host.bind_transaction(self, event.transaction)
        self._reinvite_in = event
        body = _body_of(request)
        oa = self.offer_answer
        if body is not None and oa.remote is not None and body == oa.remote and \
                oa.local is not None and parse_session_expires(request) is not None:
            # An RFC 4028 refresh repeating the peer's last description: repeat ours.
            oa.receive_offer(body)
            oa.send_answer(oa.local)
            self._answer_reinvite(oa.local, now=now)
            return
        if body is not None:
            oa.receive_offer(body)
        self.host.emit(ReinviteReceived(self.id, body, request))

    def _on_update(self, event: RequestReceived, *, now: float) -> None:
        request = event.request
        core = self.host.core
        if request.body:
            # RFC 3311 §5.2: an UPDATE offer we cannot take is refused with 488; this
            # session negotiates media only in INVITE transactions.
            self.host.send_response_for(self, core.create_response(request, 488), now=now)
            return
        if not self._check_session_interval(request, event, now=now):
            return
        response = core.create_response(request, 200)
        self._add_uas_session_timer(request, response, now=now)
        self.host.send_response_for(self, response, now=now)

    def _on_prack(self, event: RequestReceived, *, now: float) -> None:
        request = event.request
        core = self.host.core
        rack = parse_rack(request)
        pending = self._unacked_1xx
        invite = self._server_invite.request if self._server_invite else None
        if rack is None or pending is None or invite is None or rack.rseq != pending.rseq \
                or rack.cseq != invite.cseq.seq:
            # RFC 3262 §3: a PRACK matching no unacknowledged reliable 1xx gets 481.
            self.host.send_response_for(self, core.create_response(request, 481), now=now)
            return
        self.host.cancel_timer(self, ("rel1xx", pending.rseq))
        self._unacked_1xx = None
        body = _body_of(request)
        if pending.carries_offer and body is not None:
            self.offer_answer.receive_answer(body)
            self.host.emit(AnswerReceived(self.id, body, request))
        self.host.send_response_for(self, core.create_response(request, 200), now=now)
        if self._queued_1xx:
            response, _ = self._queued_1xx.pop(0)
            self._send_reliable(response, now=now)
        elif self._deferred_2xx is not None:
            final, self._deferred_2xx = self._deferred_2xx, None
            self._final(final, now=now)

    def _on_ack(self, event: AckReceived, *, now: float) -> None:
        ack = event.request
        body = _body_of(ack)
        if self._reinvite_in is not None and ack.cseq.seq == self._reinvite_in_answered_cseq:
            if self.offer_answer.state is OfferState.OFFER_SENT and body is not None:
                self.offer_answer.receive_answer(body)
            elif self.offer_answer.state is OfferState.OFFER_SENT:
                self.offer_answer.rollback()
            remote = self.offer_answer.remote
            self._reinvite_in = None
            self.host.emit(Updated(self.id, False, remote, ack))
            return
        if self.state is not SessionState.ACCEPTED or self.is_uac:
            self.dropped += 1
            return
        if self.offer_answer.state is OfferState.OFFER_SENT:
            if body is None:
                self._connected(now=now)
                self._terminated_reason = TerminationReason.PROTOCOL
                self._send_bye(now=now)
                return
            self.offer_answer.receive_answer(body)
            self.host.emit(AnswerReceived(self.id, body, ack))
        self._connected(now=now)

    def _on_cancel_received(self, event: CancelReceived, *, now: float) -> None:
        if self._reinvite_in is not None and \
                event.invite_transaction == self._reinvite_in.transaction:
            self._reinvite_in = None
            if self.offer_answer.state is not OfferState.STABLE:
                self.offer_answer.rollback()
            return
        if (event.answered_487 and self.state is SessionState.INCOMING) or \
                (event.answered_487 and self._deferred_2xx is not None):
            self._final_sent = True
            if self._unacked_1xx is not None:
                self.host.cancel_timer(self, ("rel1xx", self._unacked_1xx.rseq))
                self._unacked_1xx = None
            self._terminate(TerminationReason.CANCELLED, 487)

    def _on_failure(self, event: TransactionTimedOut | TransportFailed, *, now: float) -> None:
        key = event.transaction
        reason = (TerminationReason.TIMEOUT if isinstance(event, TransactionTimedOut)
                  else TerminationReason.TRANSPORT)
        if key == self._invite_key and self.state in (SessionState.CALLING,
                                                      SessionState.CANCELLING):
            self.host.emit(Failed(self.id, None, reason.value, None))
            self._terminate(reason)
        elif key == self._bye_key:
            if self._terminated_reason is None:
                self._terminate(TerminationReason.BYE_LOCAL,
                                408 if reason is TerminationReason.TIMEOUT else 503)
            else:
                self._terminate(self._terminated_reason)
        elif key == self._reinvite_key or key in self._refresh_keys:
            self._reinvite_key = None
            self._refresh_keys.discard(key)
            self._terminated_reason = reason
            self._send_bye(now=now)
        elif key in self._info_keys:
            self._info_keys.discard(key)
            self._info_authorized.discard(key)
            self.host.emit(InfoResponded(self.id, None, None))
        elif self._server_invite is not None and key == self._server_invite.transaction:
            self._terminate(reason)

    # ====================================================================================
    # timers
    # ====================================================================================

    def on_timer(self, name: Hashable, *, now: float) -> None:
        if self.state is SessionState.TERMINATED:
            return
        if isinstance(name, tuple) and name[0] == "rel1xx":
            self._on_rel1xx_timer(now=now)
        elif name == "glare":
            self._glare_pending = False
            if self.state is SessionState.CONFIRMED and self._reinvite_in is None:
                self._send_reinvite(now=now)
        elif name == "refresh":
            self._refresh(now=now)
        elif name == "expire":
            self._terminated_reason = TerminationReason.SESSION_EXPIRED
            self._send_bye(now=now)
        else:
            super().on_timer(name, now=now)

    def _on_rel1xx_timer(self, *, now: float) -> None:
        pending = self._unacked_1xx
        if pending is None:
            return
        timeout = self.host.core.config.timers.transaction_timeout
        if now >= pending.first_sent + timeout:
            # RFC 3262 §3: "If ... retransmitted for 64*T1 seconds without reception of a
            # corresponding PRACK, the UAS SHOULD reject the original request with a 5xx".
            self._unacked_1xx = None
            self._deferred_2xx = None
            self._respond_final(504, "No PRACK", now=now)
            self._terminate(TerminationReason.TIMEOUT, 504)
            return
        self.host.send_response_for(self, pending.response, now=now)
        pending.interval *= 2
        self.host.schedule(self, ("rel1xx", pending.rseq),
                           min(now + pending.interval, pending.first_sent + timeout))

    # --- session timer (RFC 4028) --------------------------------------------------------

    def _decorate_request(self, request: Request, *, initial: bool) -> None:
        supported = []
        if self.timer_config.enabled:
            supported.append("timer")
        if self.reliable_mode in (ReliableProvisional.SUPPORTED,
                                  ReliableProvisional.SUPPORTED_ESSENTIAL) and initial:
            supported.append("100rel")
        if self.reliable_mode is ReliableProvisional.REQUIRED and initial:
            request.headers.set("Require", "100rel")
        if supported:
            request.headers.set("Supported", ", ".join(supported))
        request.headers.set("Allow", ", ".join(self.host.core.config.allow))

    def _add_session_expires(self, request: Request) -> None:
        if self._session_expires is None:
            return
        value = SessionExpires(self._session_expires, self.timer_config.refresher)
        request.headers.set("Session-Expires", str(value))
        request.headers.set("Min-SE", str(self.timer_config.min_se))

    def _add_uas_session_timer(self, request: Request, response: Response, *,
                               now: float) -> None:
        """RFC 4028 §9: choose the interval and refresher for a 2xx; start our timers."""
        requested = parse_session_expires(request)
        peer_timer = "timer" in option_tags(request, "Supported") or \
            "timer" in option_tags(request, "Require")
        initial = request.to.tag is None
        if requested is None and not (self.timer_config.enabled and initial) and \
                self._timer is None:
            return
        if requested is not None:
            interval = requested.interval
            refresher = requested.refresher
        elif self._timer is not None:
            interval, refresher = self._timer.interval, None
        else:
            interval = max(self.timer_config.interval, parse_min_se(request) or 0)
            refresher = None
        if refresher is None:
            if not peer_timer:
                refresher = Refresher.UAS
            elif self._timer is not None:
                refresher = Refresher.UAS if self._timer.we_refresh else Refresher.UAC
            elif initial:
                refresher = self.timer_config.refresher
            else:
                refresher = Refresher.UAC
        response.headers.set("Session-Expires", str(SessionExpires(interval, refresher)))
        if peer_timer:
            response.headers.set("Require", "timer")
        refreshed = self._timer is not None
        self._timer = _SessionTimerState(interval, refresher is Refresher.UAS)
        self._schedule_session_timer(now=now)
        if refreshed:
            self.host.emit(SessionRefreshed(self.id, interval, self._timer.we_refresh))

    def _start_session_timer_from(self, response: Response, *, we_are_uac: bool, now: float,
                                  refreshed: bool = False) -> None:
        granted = parse_session_expires(response)
        if granted is None:
            self._timer = None
            self._cancel_session_timers()
            return
        refresher = granted.refresher or Refresher.UAC
        we_refresh = (refresher is Refresher.UAC) == we_are_uac
        self._timer = _SessionTimerState(granted.interval, we_refresh)
        self._schedule_session_timer(now=now)
        if refreshed:
            self.host.emit(SessionRefreshed(self.id, granted.interval, we_refresh))

    def _schedule_session_timer(self, *, now: float) -> None:
        self._cancel_session_timers()
        timer = self._timer
        if timer is None:
            return
        if timer.we_refresh:
            self.host.schedule(self, "refresh", now + refresh_delay(timer.interval))
        else:
            self.host.schedule(self, "expire", now + expiry_delay(timer.interval))

    def _cancel_session_timers(self) -> None:
        self.host.cancel_timer(self, "refresh")
        self.host.cancel_timer(self, "expire")

    def _refresh(self, *, now: float) -> None:
        """RFC 4028 §10: refresh with UPDATE when the peer allows it, else re-INVITE."""
        timer = self._timer
        if timer is None or self.state is not SessionState.CONFIRMED:
            return
        if self._reinvite_key is not None or self._reinvite_in is not None:
            self.host.schedule(self, "refresh", now + 1.0)  # retry once the exchange is over
            return
        if "UPDATE" in self.peer_allow:
            update = self._in_dialog_request("UPDATE")
            update.headers.set("Supported", "timer")
            update.headers.set("Session-Expires",
                               str(SessionExpires(timer.interval, Refresher.UAC)))
            update.headers.set("Min-SE", str(self.timer_config.min_se))
            self._refresh_keys.add(self.host.send_request_for(self, update, self.targets, now=now))
            return
        self._reinvite_body = self.offer_answer.local
        self._reinvite_is_refresh = True
        self._send_reinvite(now=now)

    def _on_refresh_response(self, response: Response, *, now: float) -> None:
        if 200 <= response.status < 300:
            self._start_session_timer_from(response, we_are_uac=True, now=now, refreshed=True)
        elif response.status == 422 and self._timer is not None:
            min_se = parse_min_se(response)
            if min_se is not None and min_se > self._timer.interval:
                self._timer.interval = min_se
                self._refresh(now=now)
        elif response.status in (408, 481):
            self._terminate(TerminationReason.TIMEOUT, response.status)

    # ====================================================================================
    # helpers
    # ====================================================================================

    def _require_state(self, state: SessionState, action: str) -> None:
        if self.state is not state or self.is_uac:
            raise LocalProtocolError(f"cannot {action} in state {self.state.name}"
                                     f" ({'caller' if self.is_uac else 'callee'})")

    def _terminate(self, reason: TerminationReason, status: int | None = None) -> None:
        if self.state is SessionState.TERMINATED:
            return
        self.state = SessionState.TERMINATED
        self._cancel_session_timers()
        self.host.emit(Terminated(self.id, reason, status))
        self.host.finished(self)


def _body_of(message: Request | Response) -> Body | None:
    if not message.body:
        return None
    return Body(message.body, message.content_type or SDP)


def _allow_of(message: Request | Response) -> frozenset[str]:
    methods: set[str] = set()
    for value in message.headers.getall("Allow"):
        methods.update(m.strip().upper() for m in value.split(",") if m.strip())
    return frozenset(methods)


__all__ = [
    "SDP",
    "AnswerReceived",
    "Answered",
    "AutoRejected",
    "Body",
    "Connected",
    "DialogExtension",
    "Failed",
    "Forwarded",
    "GlareRetryScheduled",
    "InfoReceived",
    "InfoResponded",
    "InviteEvent",
    "InviteInput",
    "InvitePolicy",
    "InviteReceived",
    "InviteSession",
    "OfferReceived",
    "ProgressReceived",
    "ReinviteReceived",
    "SessionRefreshed",
    "SessionState",
    "Terminated",
    "TerminationReason",
    "TryingReceived",
    "UpdateFailed",
    "Updated",
    "classify",
    "glare_delay",
    "invite_factory",
]
