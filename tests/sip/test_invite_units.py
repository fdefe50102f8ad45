"""The pure parts of the invite usage: classification, offer/answer rules, back-off, schedules.

Proves: ``classify`` maps responses to DUM-style inputs given the offer state;
``OfferAnswer`` raises on local misuse, answers a remote second offer with 491
and rolls back a failed offer; the RFC 3261 §14.1 glare back-off stays in
2.1-4.0 s (Call-ID owner) or 0-2.0 s (other) in 10 ms steps; reliable 1xx
retransmissions double from T1 and stop before 64*T1; RFC 4028 helpers.
"""

from __future__ import annotations

import pytest

from voipkit.sip.errors import LocalProtocolError, RemoteProtocolError
from voipkit.sip.usage.invite import InviteInput, classify, glare_delay
from voipkit.sip.usage.offer_answer import Body, OfferAnswer, OfferState
from voipkit.sip.usage.prack import retransmit_delays
from voipkit.sip.usage.session_timer import (
    Refresher,
    SessionExpires,
    SessionTimerConfig,
    expiry_delay,
    parse_session_expires,
    refresh_delay,
)
from voipkit.testing import invite, response_to

SDP = Body(b"v=0\r\n", "application/sdp")



@pytest.mark.parametrize(("status", "body", "state", "reliable", "expected"), [
    (100, b"", OfferState.OFFER_SENT, False, InviteInput.TRYING),
    (180, b"", OfferState.OFFER_SENT, False, InviteInput.PROVISIONAL),
    (183, b"x", OfferState.OFFER_SENT, False, InviteInput.PROVISIONAL_PREVIEW),
    (183, b"x", OfferState.OFFER_SENT, True, InviteInput.PROVISIONAL_ANSWER),
    (183, b"x", OfferState.STABLE, True, InviteInput.PROVISIONAL_OFFER),
    (200, b"x", OfferState.OFFER_SENT, False, InviteInput.SUCCESS_ANSWER),
    (200, b"", OfferState.OFFER_SENT, False, InviteInput.SUCCESS_MISSING_ANSWER),
    (200, b"", OfferState.STABLE, False, InviteInput.SUCCESS),
    (491, b"", OfferState.OFFER_SENT, False, InviteInput.GLARE),
    (407, b"", OfferState.OFFER_SENT, False, InviteInput.AUTH),
    (422, b"", OfferState.OFFER_SENT, False, InviteInput.TOO_SMALL),
    (481, b"", OfferState.OFFER_SENT, False, InviteInput.DIALOG_GONE),
    (486, b"", OfferState.OFFER_SENT, False, InviteInput.FAILURE),
])
def test_classify(status: int, body: bytes, state: OfferState, reliable: bool,
                  expected: InviteInput) -> None:
    response = response_to(invite(), status)
    response.body = body
    assert classify(response, state, reliable=reliable) is expected


def test_offer_answer_rules() -> None:
    oa = OfferAnswer()
    with pytest.raises(LocalProtocolError):
        oa.send_answer(SDP)
    oa.send_offer(SDP)
    with pytest.raises(LocalProtocolError):
        oa.send_offer(SDP)
    with pytest.raises(RemoteProtocolError) as info:
        oa.receive_offer(SDP)
    assert info.value.status_hint == 491
    oa.receive_answer(Body(b"a", "application/sdp"))
    assert oa.state is OfferState.STABLE and oa.exchanges == 1
    oa.send_offer(Body(b"hold", "application/sdp"))
    oa.rollback()
    assert oa.local == SDP and oa.remote == Body(b"a", "application/sdp")


def test_glare_delay_ranges() -> None:
    owner = {glare_delay(f"{v:04x}", owner=True) for v in range(65536)}
    other = {glare_delay(f"{v:04x}", owner=False) for v in range(65536)}
    assert min(owner) == 2.1 and max(owner) == 4.0 and len(owner) == 191
    assert min(other) == 0.0 and max(other) == 2.0 and len(other) == 201


def test_reliable_1xx_schedule() -> None:
    assert retransmit_delays(0.5, 32.0) == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]


def test_session_timer_helpers() -> None:
    response = response_to(invite(), 200)
    response.headers.set("Session-Expires", "1800;refresher=uas")
    assert parse_session_expires(response) == SessionExpires(1800, Refresher.UAS)
    response.headers.set("Session-Expires", "bogus")
    assert parse_session_expires(response) is None
    assert refresh_delay(90) == 45.0 and expiry_delay(90) == 60.0 and expiry_delay(1800) == 1768
    with pytest.raises(ValueError):
        SessionTimerConfig(min_se=30)
