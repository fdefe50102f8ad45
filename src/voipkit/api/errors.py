"""Every exception voipkit raises on purpose, as one tree.

Knows: the error classes of every layer (it re-exports them). Must not know:
how the facade maps them to integers (``compat.portsip.codes`` does that, in
exactly one place).

::

    VoipkitError                          voipkit.base.errors; catch this to catch all
    ├── ConfigurationError                a bad argument or setting, named in the message
    ├── InvalidStateError                 the object's state forbids it (hold() while ringing)
    ├── NotFoundError                     no such call, account, subscription (an unknown id)
    ├── SipError
    │   ├── RequestFailed                 a final non-2xx answer; .status, .reason, .response
    │   │   ├── RegistrationFailed
    │   │   └── CallFailed
    │   └── TransactionTimeout            no final answer (Timer B/F), .request
    ├── SipProtocolError                  voipkit.sip.errors; .status_hint, .reason
    │   ├── LocalProtocolError            we tried something SIP forbids
    │   └── RemoteProtocolError           the peer did
    │       └── ParseError (ValueError)   bytes that are not SIP; BadExtensionError (420)
    ├── TransportError                    voipkit.aio.errors; .address
    │   ├── ConnectError
    │   │   └── TlsError
    │   └── ResolveError
    └── MediaError
        ├── CodecUnavailable
        ├── DeviceError
        └── RecordingError

Failures that arrive from the network while nobody is awaiting them are not
exceptions but events (``RegistrationChanged``, ``CallEnded`` ...); an exception
is raised only to code that awaits the outcome (``await account.register()``).
"""

from __future__ import annotations

from voipkit.aio.errors import ConnectError, ResolveError, TlsError, TransportError
from voipkit.base.errors import VoipkitError
from voipkit.sip.errors import (
    BadExtensionError,
    LocalProtocolError,
    ParseError,
    RemoteProtocolError,
    SipProtocolError,
)
from voipkit.sip.message import Request, Response


class ConfigurationError(VoipkitError, ValueError):
    """A setting or argument is invalid; the message names it and the accepted values."""


class InvalidStateError(VoipkitError):
    """The object's current state does not allow the operation (it names both)."""


class NotFoundError(VoipkitError, LookupError):
    """No call, account or subscription has the given id (it may have ended)."""


class SipError(VoipkitError):
    """A SIP exchange did not succeed."""


class RequestFailed(SipError):
    """The peer answered with a final non-2xx response."""

    def __init__(self, message: str, *, status: int, reason: str,
                 response: Response | None = None) -> None:
        super().__init__(message)
        self.status = status
        "The final status code (e.g. 403, 486)."
        self.reason = reason
        "Its reason phrase."
        self.response = response
        "The response itself, for headers such as Retry-After or Warning."


class RegistrationFailed(RequestFailed):
    """A REGISTER was refused, or got no answer (``status`` 408 then)."""


class CallFailed(RequestFailed):
    """An outgoing call ended without being answered (busy, declined, no answer ...)."""


class TransactionTimeout(SipError, TimeoutError):
    """No final response arrived before Timer B or F (64*T1)."""

    def __init__(self, message: str, *, request: Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class MediaError(VoipkitError):
    """Audio or video could not be set up or processed."""


class CodecUnavailable(MediaError):
    """No codec in common with the peer, or a codec this build cannot encode."""


class DeviceError(MediaError):
    """A sound device (or the virtual one) could not be opened or used."""


class RecordingError(MediaError):
    """A recording could not be started or written."""


__all__ = [
    "BadExtensionError",
    "CallFailed",
    "CodecUnavailable",
    "ConfigurationError",
    "ConnectError",
    "DeviceError",
    "InvalidStateError",
    "LocalProtocolError",
    "MediaError",
    "NotFoundError",
    "ParseError",
    "RecordingError",
    "RegistrationFailed",
    "RemoteProtocolError",
    "RequestFailed",
    "ResolveError",
    "SipError",
    "SipProtocolError",
    "TlsError",
    "TransactionTimeout",
    "TransportError",
    "VoipkitError",
]
