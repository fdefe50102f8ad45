"""The public events of Phone, Account and Call: frozen dataclasses, past tense.

Knows: the public objects they refer to (``Call``, ``Account``) and the SIP
messages that caused them. Must not know: how they are produced. Subscribe by
type: ``phone.on(IncomingCall)``, ``call.on(DtmfReceived)``; a call's events
also reach its phone's bus, and an account's too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from voipkit.sip.message import Request, Response

if TYPE_CHECKING:
    from voipkit.api.account import Account
    from voipkit.api.call import Call


class PhoneEvent:
    """Base of every public event."""

    __slots__ = ()


# --- calls ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallEvent(PhoneEvent):
    """Base of the events of one call."""

    call: Call
    "The call."


@dataclass(frozen=True, slots=True)
class IncomingCall(CallEvent):
    """A call arrived (onInviteIncoming): ``answer()``, ``ring()``, ``reject()``, ``forward()``."""

    request: Request
    "The INVITE."
    replaces: Call | None = None
    "The call this one replaces (INVITE with Replaces, RFC 3891); it is answered by itself."


@dataclass(frozen=True, slots=True)
class CallTrying(CallEvent):
    """The callee's side sent 100 Trying (onInviteTrying)."""


@dataclass(frozen=True, slots=True)
class CallProgress(CallEvent):
    """A provisional response: 180 ringing (onInviteRinging) or 183 progress."""

    status: int
    reason: str
    early_media: bool
    "True when the response carries early media (onInviteSessionProgress)."
    response: Response


@dataclass(frozen=True, slots=True)
class CallAnswered(CallEvent):
    """Our call was answered with a 2xx (onInviteAnswered)."""

    response: Response


@dataclass(frozen=True, slots=True)
class CallConnected(CallEvent):
    """The ACK went out or came in: both sides are in the call (onInviteConnected)."""


@dataclass(frozen=True, slots=True)
class CallFailure(CallEvent):
    """Our call was refused or got no answer (onInviteFailure); ``CallEnded`` follows.

    (Awaiting ``call.answered()`` raises the exception ``CallFailed`` instead.)
    """

    status: int
    "The final status (408 when nothing answered, 503 when no transport worked)."
    reason: str
    response: Response | None


@dataclass(frozen=True, slots=True)
class CallUpdated(CallEvent):
    """A re-INVITE changed the session (onInviteUpdated)."""

    initiated_locally: bool
    message: Request | Response
    "Our re-INVITE's 2xx; for the peer's, its re-INVITE (the offer, or none if offerless)."


@dataclass(frozen=True, slots=True)
class RemoteHold(CallEvent):
    """The peer put us on hold (onRemoteHold)."""


@dataclass(frozen=True, slots=True)
class RemoteUnhold(CallEvent):
    """The peer took us off hold (onRemoteUnHold)."""


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    """The call is over (onInviteClosed for a BYE); its audio is closed, recordings finalised."""

    reason: str
    "bye-local, bye-remote, cancelled, rejected, forwarded, timeout, session-expired ..."
    status: int | None = None


@dataclass(frozen=True, slots=True)
class DtmfReceived(CallEvent):
    """A DTMF tone arrived, by RFC 4733 or INFO (onRecvDtmfTone)."""

    digit: str
    "0-9, *, #, A-D, or ! for flash."
    method: str
    "``rfc4733`` or ``info``."


@dataclass(frozen=True, slots=True)
class InfoReceived(CallEvent):
    """An in-dialog INFO with a supported body type arrived (onRecvInfo); it was answered 200."""

    request: Request


@dataclass(frozen=True, slots=True)
class PlaybackFinished(CallEvent):
    """A file played into the call ended (onPlayFileFinished)."""

    path: str
    completed: bool
    "False when it was replaced or the call ended first."


@dataclass(frozen=True, slots=True)
class CallForwarded(PhoneEvent):
    """An incoming call was forwarded with 302 by policy (onInviteBeginingForward)."""

    target: str
    request: Request


@dataclass(frozen=True, slots=True)
class CallRefused(PhoneEvent):
    """An incoming call was refused by policy (busy: 486, do-not-disturb: 480)."""

    status: int
    request: Request


# --- accounts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountEvent(PhoneEvent):
    account: Account


@dataclass(frozen=True, slots=True)
class AccountRegistered(AccountEvent):
    """A REGISTER (or refresh) succeeded (onRegisterSuccess)."""

    status: int
    reason: str
    expires: int
    response: Response


@dataclass(frozen=True, slots=True)
class AccountRegistrationFailed(AccountEvent):
    """A REGISTER failed (onRegisterFailure); ``retry_at`` says whether it will be retried."""

    status: int
    "The final status (408 for no answer, 503 for transport failure)."
    reason: str
    response: Response | None
    retry_at: float | None


@dataclass(frozen=True, slots=True)
class AccountUnregistered(AccountEvent):
    """The binding was removed (or the attempt to remove it ended)."""

    status: int | None
    reason: str


# --- phone ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OptionsReceived(PhoneEvent):
    """An out-of-dialog OPTIONS arrived and was answered (onRecvOptions)."""

    request: Request


@dataclass(frozen=True, slots=True)
class SignalingTraced(PhoneEvent):
    """A SIP message crossed a socket (onSendingSignaling / onReceivedSignaling)."""

    sent: bool
    "True for a message we sent."
    data: bytes
    "The exact bytes."
    call: Call | None
    "The call it belongs to, when its Call-ID is one of ours."
