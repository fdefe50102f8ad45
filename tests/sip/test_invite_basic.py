"""InviteSession basics between two UsageManagers on the in-memory network.

Proves: a call is set up (INVITE/100/180/200/ACK) and torn down by BYE from
either side with the right events; an INVITE without SDP gets the offer in the
200 and the answer in the ACK; CANCEL before the answer ends both sides
(bob: cancelled, alice: 487 -> Failed); reject with 486 and forward with 302
Contact; a CANCEL that loses the race to the 200 becomes ACK + BYE; a lost ACK
makes the core resend the 200 and the late ACK still connects bob; 2xx
retransmissions are absorbed; crossing BYEs end both sides once.
"""

from __future__ import annotations

from dataclasses import replace

from invite_helpers import ANSWER, CONFIG, OFFER, connect, make_call

from voipkit.sip.usage.invite import (
    Answered,
    AnswerReceived,
    Connected,
    Failed,
    Forwarded,
    InviteReceived,
    OfferReceived,
    ProgressReceived,
    SessionState,
    Terminated,
    TerminationReason,
    TryingReceived,
)
from voipkit.sip.usage.offer_answer import Body
from voipkit.testing import is_request, is_response


def test_call_setup_and_caller_hangs_up() -> None:
    call = make_call()
    alice = call.dial()
    call.settle()
    (incoming,) = call.of("bob", InviteReceived)
    assert isinstance(incoming, InviteReceived)
    assert incoming.offer == Body(OFFER, "application/sdp")
    bob = call.bob_session()
    bob.ring(now=call.network.now)
    call.settle()
    bob.accept(ANSWER, now=call.network.now)
    call.settle()
    assert call.names("alice") == ["TryingReceived", "ProgressReceived", "Answered",
                                   "AnswerReceived", "Connected"]
    (progress,) = call.of("alice", ProgressReceived)
    assert isinstance(progress, ProgressReceived) and progress.status == 180
    assert not progress.early_media and not progress.reliable
    assert call.names("bob") == ["InviteReceived", "Connected"]
    assert alice.state is SessionState.CONFIRMED and bob.state is SessionState.CONFIRMED
    assert alice.offer_answer.remote == Body(ANSWER, "application/sdp")
    assert bob.offer_answer.remote == Body(OFFER, "application/sdp")
    alice.hangup(now=call.network.now)
    call.settle()
    assert call.of("alice", Terminated) == [Terminated(alice.id, TerminationReason.BYE_LOCAL, 200)]
    assert call.of("bob", Terminated) == [Terminated(bob.id, TerminationReason.BYE_REMOTE)]
    assert call.network.describe_delivered() == [
        "INVITE", "100 INVITE", "180 INVITE", "200 INVITE", "ACK", "BYE", "200 BYE"]
    assert not call.alice.usages and not call.bob.usages


def test_callee_hangs_up() -> None:
    call = make_call()
    alice = connect(call)
    bob = call.bob_session()
    bob.hangup(now=call.network.now)
    call.settle()
    assert call.of("alice", Terminated) == [Terminated(alice.id, TerminationReason.BYE_REMOTE)]
    assert call.of("bob", Terminated) == [Terminated(bob.id, TerminationReason.BYE_LOCAL, 200)]


def test_invite_without_sdp_offer_in_200_answer_in_ack() -> None:
    call = make_call()
    alice = call.dial(body=None)
    call.settle()
    (incoming,) = call.of("bob", InviteReceived)
    assert isinstance(incoming, InviteReceived) and incoming.offer is None
    bob = call.bob_session()
    bob.accept(ANSWER, now=call.network.now)  # here: bob's offer
    call.settle()
    (offer,) = call.of("alice", OfferReceived)
    assert isinstance(offer, OfferReceived) and offer.body.data == ANSWER
    assert not call.of("alice", Connected)
    assert "ACK" not in call.network.describe_delivered()
    alice.provide_answer(OFFER, now=call.network.now)
    call.settle()
    assert call.of("alice", Connected) and call.of("bob", Connected)
    (answer,) = call.of("bob", AnswerReceived)
    assert isinstance(answer, AnswerReceived) and answer.body.data == OFFER
    assert bob.offer_answer.local == Body(ANSWER, "application/sdp")
    assert bob.offer_answer.remote == Body(OFFER, "application/sdp")


def test_cancel_before_answer() -> None:
    call = make_call()
    alice = call.dial()
    call.settle()
    bob = call.bob_session()
    bob.ring(now=call.network.now)
    call.settle()
    alice.cancel(now=call.network.now)
    call.settle()
    assert call.of("bob", Terminated) == [Terminated(bob.id, TerminationReason.CANCELLED, 487)]
    failed = call.of("alice", Failed)
    assert len(failed) == 1 and isinstance(failed[0], Failed) and failed[0].status == 487
    assert call.of("alice", Terminated) == [
        Terminated(alice.id, TerminationReason.CANCELLED, 487)]
    assert call.network.describe_delivered()[-4:] == [
        "CANCEL", "200 CANCEL", "487 INVITE", "ACK"]


def test_cancel_before_any_provisional_waits_for_the_held_back_100() -> None:
    """RFC 3261 §9.1: the CANCEL goes out when the first provisional (here the
    callee's 100, held back 0.1 s by ``trying_delay``) arrives."""
    call = make_call(config=replace(CONFIG, trying_delay=0.1))
    alice = call.dial()
    call.settle()
    assert call.network.describe_delivered() == ["INVITE"]
    alice.cancel(now=call.network.now)
    call.settle()
    assert call.network.describe_delivered() == ["INVITE"]  # nothing to cancel yet
    call.run(until=call.network.now + 0.1)
    call.settle()
    assert call.network.describe_delivered()[1:] == [
        "100 INVITE", "CANCEL", "200 CANCEL", "487 INVITE", "ACK"]
    assert call.of("alice", Terminated) == [
        Terminated(alice.id, TerminationReason.CANCELLED, 487)]


def test_reject_486() -> None:
    call = make_call()
    alice = call.dial()
    call.settle()
    call.bob_session().reject(486, now=call.network.now)
    call.settle()
    (failed,) = call.of("alice", Failed)
    assert isinstance(failed, Failed) and failed.status == 486 and failed.reason == "Busy Here"
    assert call.of("alice", Terminated) == [
        Terminated(alice.id, TerminationReason.REJECTED, 486)]
    assert [type(e).__name__ for e in call.bob_events] == ["InviteReceived", "Terminated"]


def test_forward_sends_302_with_contact() -> None:
    call = make_call()
    call.dial()
    call.settle()
    bob = call.bob_session()
    bob.forward("sip:carol@example.com", now=call.network.now)
    call.settle()
    (forwarded,) = call.of("bob", Forwarded)
    assert isinstance(forwarded, Forwarded) and forwarded.target == "sip:carol@example.com"
    (failed,) = call.of("alice", Failed)
    assert isinstance(failed, Failed) and failed.status == 302 and failed.response is not None
    assert str(failed.response.contact[0].uri) == "sip:carol@example.com"
    assert failed.response.reason == "Moved Temporarily"


def test_cancel_losing_the_race_sends_ack_then_bye() -> None:
    call = make_call()
    alice = call.dial()
    call.settle()
    bob = call.bob_session()
    bob.ring(now=call.network.now)
    call.settle()
    # bob answers at the same moment alice cancels: the CANCEL finds no pending INVITE.
    bob.accept(ANSWER, now=call.network.now)
    alice.cancel(now=call.network.now)
    call.settle()
    delivered = call.network.describe_delivered()
    assert delivered.index("ACK") < delivered.index("BYE")
    assert call.of("alice", Terminated) == [Terminated(alice.id, TerminationReason.CANCELLED)]
    assert call.of("bob", Terminated) == [Terminated(bob.id, TerminationReason.BYE_REMOTE)]


def test_lost_ack_200_is_resent_and_late_ack_connects() -> None:
    call = make_call()
    alice = call.dial()
    call.settle()
    call.network.drop(is_request("ACK"))
    call.bob_session().accept(ANSWER, now=call.network.now)
    call.settle()
    assert call.of("alice", Connected) and not call.of("bob", Connected)
    call.run(until=0.5)  # bob's 2xx retransmission at T1; alice's core resends the ACK
    assert call.sent("200 INVITE") == [0.0, 0.5]
    assert call.of("bob", Connected)
    assert len(call.of("alice", Answered)) == 1  # the retransmitted 2xx was absorbed
    assert alice.state is SessionState.CONFIRMED


def test_retransmitted_2xx_is_absorbed() -> None:
    call = make_call()
    call.dial()
    call.settle()
    call.network.hold(is_request("ACK"), 0.6)  # the ACK arrives after one 2xx resend
    call.bob_session().accept(ANSWER, now=call.network.now)
    call.run(until=2.0)
    assert call.sent("200 INVITE") == [0.0, 0.5]
    assert len(call.of("alice", Answered)) == 1 and len(call.of("alice", Connected)) == 1
    assert len(call.of("bob", Connected)) == 1


def test_bye_crossing() -> None:
    call = make_call()
    alice = connect(call)
    bob = call.bob_session()
    alice.hangup(now=call.network.now)
    bob.hangup(now=call.network.now)
    call.settle()
    assert call.of("alice", Terminated) == [Terminated(alice.id, TerminationReason.BYE_LOCAL, 200)]
    assert call.of("bob", Terminated) == [Terminated(bob.id, TerminationReason.BYE_LOCAL, 200)]
    assert not call.alice.usages and not call.bob.usages


def test_trying_event_and_early_media_preview() -> None:
    call = make_call()
    call.dial()
    call.settle()
    call.bob_session().ring(ANSWER, status=183, now=call.network.now)
    call.settle()
    assert call.of("alice", TryingReceived)
    (progress,) = call.of("alice", ProgressReceived)
    assert isinstance(progress, ProgressReceived)
    assert progress.status == 183 and progress.early_media and not progress.reliable
    assert progress.body == Body(ANSWER, "application/sdp")
    assert is_response(183, "INVITE")(call.network.delivered[-1])
