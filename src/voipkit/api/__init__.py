"""L3: the Pythonic asyncio API — Phone, Account, Call and typed events.

Knows: every layer below; joins SIP signalling to media the way pjsua-lib does.
Must not know: ``voipkit.compat`` or ``voipkit.testing``.
"""

from voipkit.api.account import Account
from voipkit.api.bus import EventBus
from voipkit.api.call import Call, CallState
from voipkit.api.config import (
    AccountConfig,
    Listen,
    MediaConfig,
    PhoneConfig,
    TlsSettings,
)
from voipkit.api.errors import (
    CallFailed,
    ConfigurationError,
    InvalidStateError,
    NotFoundError,
    RegistrationFailed,
    RequestFailed,
    TransactionTimeout,
    TransportError,
    VoipkitError,
)
from voipkit.api.events import (
    AccountRegistered,
    AccountRegistrationFailed,
    AccountUnregistered,
    CallAnswered,
    CallConnected,
    CallEnded,
    CallFailure,
    CallForwarded,
    CallProgress,
    CallRefused,
    CallTrying,
    CallUpdated,
    DtmfReceived,
    IncomingCall,
    InfoReceived,
    OptionsReceived,
    PhoneEvent,
    PlaybackFinished,
    RemoteHold,
    RemoteUnhold,
    SignalingTraced,
)
from voipkit.api.phone import Phone

__all__ = [
    "Account",
    "AccountConfig",
    "AccountRegistered",
    "AccountRegistrationFailed",
    "AccountUnregistered",
    "Call",
    "CallAnswered",
    "CallConnected",
    "CallEnded",
    "CallFailed",
    "CallFailure",
    "CallForwarded",
    "CallProgress",
    "CallRefused",
    "CallState",
    "CallTrying",
    "CallUpdated",
    "ConfigurationError",
    "DtmfReceived",
    "EventBus",
    "IncomingCall",
    "InfoReceived",
    "InvalidStateError",
    "Listen",
    "MediaConfig",
    "NotFoundError",
    "OptionsReceived",
    "Phone",
    "PhoneConfig",
    "PhoneEvent",
    "PlaybackFinished",
    "RegistrationFailed",
    "RemoteHold",
    "RemoteUnhold",
    "RequestFailed",
    "SignalingTraced",
    "TlsSettings",
    "TransactionTimeout",
    "TransportError",
    "VoipkitError",
]
