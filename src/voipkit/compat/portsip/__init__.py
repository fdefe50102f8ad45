"""The PortSIP-compatible facade: ``PortSIPLib`` and ``SIPCallbackEvents``.

Knows: ``voipkit.api`` and the stdlib (threading, queue, asyncio). Must not
know: ``sip``, ``sdp``, ``media`` or ``aio`` directly. Which of the manual's
functions exist so far is listed in docs/api-coverage.md; a function that is
not implemented does not exist here. The porting guide is docs/portsip.md and
the error codes are listed in docs/error-codes.md.

    class Events(SIPCallbackEvents):
        def onInviteIncoming(self, sessionId, *rest):
            lib.answerCall(sessionId, False)
            return 0

    lib = PortSIPLib(Events())
    lib.initialize(TRANSPORT_TYPE.TRANSPORT_UDP, "192.168.1.10", 5060,
                   PORTSIP_LOG_LEVEL.PORTSIP_LOG_NONE, "", 8, "my phone", 1, 0, "", "", False)
"""

from voipkit.compat.portsip.callbacks import SIPCallbackEvents
from voipkit.compat.portsip.codes import ErrorCode
from voipkit.compat.portsip.enums import (
    AUDIOCODEC_TYPE,
    DIRECTION_MODE,
    DTMF_METHOD,
    FILE_FORMAT,
    PORTSIP_LOG_LEVEL,
    RECORD_MODE,
    SESSION_REFRESH_MODE,
    SRTP_POLICY,
    TRANSPORT_TYPE,
    VIDEOCODEC_TYPE,
)
from voipkit.compat.portsip.lib import PortSIPLib, StringBuilder

__all__ = [
    "AUDIOCODEC_TYPE",
    "DIRECTION_MODE",
    "DTMF_METHOD",
    "FILE_FORMAT",
    "PORTSIP_LOG_LEVEL",
    "RECORD_MODE",
    "SESSION_REFRESH_MODE",
    "SRTP_POLICY",
    "TRANSPORT_TYPE",
    "VIDEOCODEC_TYPE",
    "ErrorCode",
    "PortSIPLib",
    "SIPCallbackEvents",
    "StringBuilder",
]
