"""L1: the SDP model, parser and RFC 3264 offer/answer.

Knows: RFC 4566/8866 session descriptions and RFC 3264 negotiation.
Must not know: SIP, RTP packets, sockets, asyncio, or the clock. Imports only
the standard library and ``voipkit.base``. (Arrives with the calls issue.)
"""
