"""L3: the Pythonic asyncio API (Phone, Account, Call, typed events).

Knows: every layer below; joins SIP signalling to media the way pjsua-lib does.
Must not know: ``voipkit.compat`` or ``voipkit.testing``. (Arrives with the
calls issue.)
"""
