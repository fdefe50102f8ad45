"""L1: pure media — RTP/RTCP/SRTP packets, codecs, jitter buffer, mixer.

Knows: RFC 3550, RFC 3711, RFC 4733, codecs through PyAV, numpy frames.
Must not know: SIP, sockets, asyncio, threads, or the clock (callers pass
``now``/``arrival``). Imports ``voipkit.base`` and ``voipkit.sdp``. (Arrives
with the calls and audio-media issues.)
"""
