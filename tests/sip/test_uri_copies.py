"""SipUri.replace makes an independent copy (regression: it shared ``params``/``headers``).

Proves that changing the params or headers of a URI made by ``replace()`` leaves the
original, and its text, as they were, and that changed fields still apply.
"""

from __future__ import annotations

from voipkit.sip import SipUri


def test_replace_copies_params_and_headers() -> None:
    original = SipUri.parse("sip:bob@example.com;user=phone?subject=hi")
    copy = original.replace()
    copy.params["transport"] = "udp"
    copy.headers["x"] = "1"
    assert original.params == {"user": "phone"}
    assert original.headers == {"subject": "hi"}
    assert str(original) == "sip:bob@example.com;user=phone?subject=hi"
    assert str(copy) == "sip:bob@example.com;user=phone;transport=udp?subject=hi&x=1"


def test_replace_with_changes_keeps_the_original() -> None:
    original = SipUri.parse("sip:bob@example.com:5070;lr")
    changed = original.replace(port=5080, params={**original.params, "method": "BYE"})
    assert str(changed) == "sip:bob@example.com:5080;lr;method=BYE"
    assert str(original) == "sip:bob@example.com:5070;lr"
    assert original.params == {"lr": None}
