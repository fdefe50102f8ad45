"""InviteSession features beyond the basic call, driven over the in-memory network.

Proves: re-INVITE hold/unhold bodies flow both ways (ReinviteReceived on the
peer, Updated on both sides); glare (both re-INVITE at once) gets 491 both ways
and each side retries after exactly the RFC 3261 §14.1 back-off computed from
its injected ids; RFC 4028 session timers refresh with UPDATE at half the
interval and the non-refresher sends BYE min(32, SE/3) before expiry when
refreshes stop; 422 makes the caller retry with the callee's Min-SE; RFC 3262
PRACK: an offer in a reliable 183 is answered in the PRACK, the unacknowledged
183 is resent at T1, 3T1, 7T1 ... and the 200 waits for the PRACK; the
incoming-call policy answers 486 beyond max sessions, 480 for do-not-disturb
and 302 for forwarding; a 407 is answered with credentials; in-dialog INFO is
delivered and answered by the application, in-dialog OPTIONS gets 200.
"""

from __future__ import annotations

from invite_helpers import ANSWER, BOB_AT, OFFER, connect, make_call

from voipkit.sip.auth import Credentials, DigestServer
from voipkit.sip.events import RequestReceived
from voipkit.sip.message import NameAddr
from voipkit.sip.usage.base import Usage
from voipkit.sip.usage.invite import (
    AnswerReceived,
    AutoRejected,
    Connected,
    Failed,
    Forwarded,
    GlareRetryScheduled,
    InfoReceived,
    InfoResponded,
    InvitePolicy,
    OfferReceived,
    ProgressReceived,
    ReinviteReceived,
    SessionRefreshed,
    SessionState,
    Terminated,
    TerminationReason,
    Updated,
    invite_factory,
)
from voipkit.sip.usage.manager import UsageManager
from voipkit.sip.usage.offer_answer import Body
from voipkit.sip.usage.prack import ReliableProvisional
from voipkit.sip.usage.session_timer import Refresher, SessionTimerConfig
from voipkit.testing import is_request

HOLD = b"v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\na=sendonly\r\n"
HELD = b"v=0\r\no=bob 1 2 IN IP4 127.0.0.2\r\na=recvonly\r\n"
BOB_CONTACT = NameAddr.parse("<sip:bob@127.0.0.2:5060>")


def test_hold_and_unhold_reinvites_carry_bodies() -> None:
    call = make_call()
    alice = connect(call)
    bob = call.bob_session()
    alice.update(HOLD, now=call.network.now)
    call.settle()
    (reinvite,) = call.of("bob", ReinviteReceived)
    assert isinstance(reinvite, ReinviteReceived)
    assert reinvite.offer == Body(HOLD, "application/sdp")
    bob.provide_answer(HELD, now=call.network.now)
    call.settle()
    (mine,) = call.of("alice", Updated)
    assert isinstance(mine, Updated) and mine.initiated_locally
    assert mine.remote_body == Body(HELD, "application/sdp")
    (theirs,) = call.of("bob", Updated)
    assert isinstance(theirs, Updated) and not theirs.initiated_locally
    assert theirs.remote_body == Body(HOLD, "application/sdp")
    alice.update(OFFER, now=call.network.now)  # unhold
    call.settle()
    assert len(call.of("bob", ReinviteReceived)) == 2
    bob.provide_answer(ANSWER, now=call.network.now)
    call.settle()
    assert len(call.of("alice", Updated)) == 2
    assert alice.offer_answer.local == Body(OFFER, "application/sdp")
    assert bob.offer_answer.remote == Body(OFFER, "application/sdp")


def test_bob_rejects_reinvite_and_old_session_stands() -> None:
    call = make_call()
    alice = connect(call)
    alice.update(HOLD, now=call.network.now)
    call.settle()
    call.bob_session().reject_update(488, now=call.network.now)
    call.settle()
    assert [type(e).__name__ for e in call.alice_events][-1] == "UpdateFailed"
    assert alice.offer_answer.local == Body(OFFER, "application/sdp")
    assert alice.state is SessionState.CONFIRMED


def test_glare_both_sides_retry_after_rfc3261_backoff() -> None:
    # alice owns the Call-ID: 2.10 s + (100 % 191) * 10 ms = 3.10 s; bob: (50 % 201) * 10 ms.
    call = make_call(alice_token=100, bob_token=50)
    alice = connect(call)
    bob = call.bob_session()
    alice.update(HOLD, now=0.0)
    bob.update(HELD, now=0.0)
    call.settle()
    assert call.network.describe_delivered().count("491 INVITE") == 2
    assert call.of("alice", GlareRetryScheduled) == [GlareRetryScheduled(alice.id, 3.1)]
    assert call.of("bob", GlareRetryScheduled) == [GlareRetryScheduled(bob.id, 0.5)]
    call.run(until=0.5)
    (first,) = call.of("alice", ReinviteReceived)
    assert isinstance(first, ReinviteReceived) and first.offer is not None
    assert first.offer.data == HELD
    alice.provide_answer(HOLD, now=0.5)
    call.run(until=3.1)
    assert call.sent("INVITE") == [0.0, 0.0, 0.0, 0.5, 3.1]
    assert len(call.of("bob", ReinviteReceived)) == 1
    bob.provide_answer(ANSWER, now=3.1)
    call.settle()
    assert len(call.of("alice", Updated)) == 2 and len(call.of("bob", Updated)) == 2


def test_session_timer_refreshes_at_half_interval_and_expires() -> None:
    timer = SessionTimerConfig(enabled=True, interval=90, refresher=Refresher.UAC)
    call = make_call(bob_policy=InvitePolicy(contact=BOB_CONTACT, session_timer=timer))
    alice = connect(call, timer=timer)
    invite = next(p.message for p in call.network.delivered if p.describe() == "200 INVITE")
    assert invite is not None and invite.headers.get("Session-Expires") == "90;refresher=uac"
    call.run(until=100.0)
    assert call.sent("UPDATE") == [45.0, 90.0]
    assert len(call.of("alice", SessionRefreshed)) == 2
    assert len(call.of("bob", SessionRefreshed)) == 2
    call.network.drop(is_request("UPDATE"), count=100)  # alice's refreshes are lost now
    call.run(until=200.0)
    # bob last heard a refresh at 90: BYE at 90 + 90 - min(32, 30) = 150.
    assert call.sent("BYE") == [150.0]
    (bob_end,) = call.of("bob", Terminated)
    assert isinstance(bob_end, Terminated)
    assert bob_end.reason is TerminationReason.SESSION_EXPIRED
    assert call.of("alice", Terminated) == [Terminated(alice.id, TerminationReason.BYE_REMOTE)]


def test_422_retries_with_min_se() -> None:
    bob_timer = SessionTimerConfig(enabled=True, interval=300, min_se=120)
    call = make_call(bob_policy=InvitePolicy(contact=BOB_CONTACT, session_timer=bob_timer))
    alice = call.dial(timer=SessionTimerConfig(enabled=True, interval=90))
    call.settle()
    call.bob_session().accept(ANSWER, now=call.network.now)
    call.settle()
    invites = [p.message for p in call.network.delivered if p.describe() == "INVITE"]
    assert "422 INVITE" in call.network.describe_delivered()
    assert [i.headers.get("Session-Expires") for i in invites if i is not None] == [
        "90;refresher=uac", "120;refresher=uac"]
    assert call.of("alice", Connected) and alice.state is SessionState.CONFIRMED


def test_prack_offer_in_reliable_183_and_retransmission() -> None:
    policy = InvitePolicy(contact=BOB_CONTACT, reliable=ReliableProvisional.SUPPORTED)
    call = make_call(bob_policy=policy)
    alice = call.dial(body=None, reliable=ReliableProvisional.SUPPORTED)
    call.settle()
    bob = call.bob_session()
    bob.ring(ANSWER, status=183, now=0.0)  # bob's offer, reliably
    call.run(until=4.0)
    assert call.sent("183 INVITE") == [0.0, 0.5, 1.5, 3.5]
    (progress,) = call.of("alice", ProgressReceived)  # retransmissions deduplicated by RSeq
    assert isinstance(progress, ProgressReceived) and progress.reliable
    (offer,) = call.of("alice", OfferReceived)
    assert isinstance(offer, OfferReceived) and offer.body.data == ANSWER
    alice.provide_answer(OFFER, now=4.0)
    call.settle()
    (answer,) = call.of("bob", AnswerReceived)
    assert isinstance(answer, AnswerReceived) and answer.body.data == OFFER
    prack = next(p.message for p in call.network.delivered if p.describe() == "PRACK")
    assert prack is not None and prack.headers.get("RAck") == "1 1 INVITE"
    call.run(until=10.0)
    assert call.sent("183 INVITE") == [0.0, 0.5, 1.5, 3.5]  # stopped by the PRACK
    bob.accept(now=10.0)
    call.settle()
    assert call.of("alice", Connected) and call.of("bob", Connected)


def test_200_waits_for_prack_of_reliable_1xx() -> None:
    policy = InvitePolicy(contact=BOB_CONTACT, reliable=ReliableProvisional.SUPPORTED)
    call = make_call(bob_policy=policy)
    call.dial(reliable=ReliableProvisional.SUPPORTED)
    call.settle()
    call.network.hold(is_request("PRACK"), 1.0, count=2)  # and its T1 retransmission
    bob = call.bob_session()
    bob.ring(ANSWER, status=183, now=0.0)
    bob.accept(ANSWER, now=0.0)
    call.run(until=5.0)
    assert call.sent("200 INVITE") == [1.0]
    assert call.sent("183 INVITE") == [0.0, 0.5]
    assert call.of("alice", Connected)


def test_max_sessions_answers_486() -> None:
    call = make_call(bob_policy=InvitePolicy(contact=BOB_CONTACT, max_sessions=1))
    call.dial()
    call.settle()
    second = call.dial()
    call.settle()
    (failed,) = call.of("alice", Failed)
    assert isinstance(failed, Failed) and failed.status == 486
    assert second.state is SessionState.TERMINATED
    (auto,) = call.of("bob", AutoRejected)
    assert isinstance(auto, AutoRejected) and auto.status == 486


def test_do_not_disturb_answers_480() -> None:
    call = make_call(bob_policy=InvitePolicy(contact=BOB_CONTACT, do_not_disturb=True))
    call.dial()
    call.settle()
    (failed,) = call.of("alice", Failed)
    assert isinstance(failed, Failed) and failed.status == 480


def test_call_forward_always_and_busy_only() -> None:
    policy = InvitePolicy(contact=BOB_CONTACT, forward_to="sip:carol@example.com")
    call = make_call(bob_policy=policy)
    call.dial()
    call.settle()
    (forwarded,) = call.of("bob", Forwarded)
    assert isinstance(forwarded, Forwarded) and forwarded.target == "sip:carol@example.com"
    policy.forward_busy_only = True
    policy.max_sessions = 1
    call.dial()
    call.settle()
    assert len(call.of("bob", Forwarded)) == 1  # not busy: the call comes in
    call.dial()
    call.settle()
    assert len(call.of("bob", Forwarded)) == 2
    assert [f.status for f in call.of("alice", Failed) if isinstance(f, Failed)] == [302, 302]


def test_407_is_answered_with_credentials() -> None:
    call = make_call()
    server = DigestServer(realm="example.com", nonce=lambda: "n0nce")
    creds = Credentials("alice", "secret", realm="example.com")
    normal = invite_factory(call.bob_policy)

    def challenging(manager: UsageManager, event: RequestReceived, now: float) -> Usage | None:
        authorization = event.request.headers.get("Proxy-Authorization")
        if authorization is None or not server.verify(authorization, creds, method="INVITE",
                                                      now=now).ok:
            response = manager.core.create_response(event.request, 407)
            for challenge in server.challenges(now=now):
                response.headers.add("Proxy-Authenticate", str(challenge))
            manager.core.send_response(response, now=now)
            return None
        return normal(manager, event, now)

    call.bob.on_new_request("INVITE", challenging)
    alice = call.dial(credentials=creds)
    call.settle()
    call.bob_session().accept(ANSWER, now=call.network.now)
    call.settle()
    assert call.network.describe_delivered()[:6] == [
        "INVITE", "100 INVITE", "407 INVITE", "ACK", "INVITE", "100 INVITE"]
    assert call.of("alice", Connected) and alice.state is SessionState.CONFIRMED


def test_info_and_options_in_dialog() -> None:
    call = make_call()
    alice = connect(call)
    alice.send_info(b"Signal=5\r\nDuration=160\r\n", "application/dtmf-relay",
                    now=call.network.now)
    call.settle()
    (info,) = call.of("bob", InfoReceived)
    assert isinstance(info, InfoReceived) and info.body is not None
    assert info.body.content_type == "application/dtmf-relay"
    call.bob_session().respond(info, 200, now=call.network.now)
    call.settle()
    (result,) = call.of("alice", InfoResponded)
    assert isinstance(result, InfoResponded) and result.status == 200
    dialog = call.alice.core.dialog(alice.dialog_id) if alice.dialog_id else None
    assert dialog is not None
    call.alice.send_request_for(alice, dialog.create_request("OPTIONS"), [BOB_AT],
                            now=call.network.now)
    call.settle()
    assert call.network.describe_delivered()[-1] == "200 OPTIONS"
