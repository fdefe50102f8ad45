"""voipkit: a Python SIP/VoIP SDK.

Layers (each imports only those below it; tests/test_layers.py checks it):

- ``voipkit.base``: clock, id sources, wrap-safe sequence numbers
- ``voipkit.sdp``: SDP and offer/answer (sans-IO)
- ``voipkit.sip``: message parser, transactions, dialogs, digest auth, UA core (sans-IO)
- ``voipkit.media``: RTP/RTCP/SRTP, codecs, jitter buffer, mixer (sans-IO)
- ``voipkit.aio``: the asyncio edge — sockets, TLS, DNS, timers, pacing
- ``voipkit.api``: the Pythonic asyncio API
- ``voipkit.compat.portsip``: the PortSIP-compatible facade

What of the PortSIP manual exists so far is listed in docs/api-coverage.md.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
