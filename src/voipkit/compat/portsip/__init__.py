"""The PortSIP-compatible facade: ``PortSIPLib`` and ``SIPCallbackEvents``.

Knows: ``voipkit.api`` and the stdlib (threading, queue, asyncio). Must not
know: ``sip``, ``sdp``, ``media`` or ``aio`` directly. Which of the manual's
functions exist so far is listed in docs/api-coverage.md; a function that is
not implemented does not exist here.
"""
