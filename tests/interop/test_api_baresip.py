"""The public API (voipkit.api) calls a real baresip 1.0.0 and is called by it.

Proves, with baresip (file audio, ctrl_tcp driven) started per test on loopback and one
Kamailio for the module, for both directions (baresip -> voipkit, voipkit -> baresip)
and every route (peer to peer; through Kamailio with both sides registered over UDP;
through Kamailio with voipkit registered over TLS, certificate verified, baresip UDP):
- the call connects (voipkit's ring() reaches baresip as CALL_RINGING) and audio flows
  both ways: voipkit's call.record() WAV holds
  baresip's 440 Hz tone and baresip's received-audio dump holds voipkit's 1000 Hz tone
  (dominant frequency within 5 %, RMS above a floor, at least 0.7 s of it);
- RFC 4733 DTMF arrives both ways: baresip's sndcode digits as DtmfReceived(rfc4733)
  in order, once each; voipkit's send_dtmf digits as baresip CALL_DTMF_START events;
- voipkit's hold() is a re-INVITE baresip sees (CALL_REMOTE_SDP offer) and answers
  recvonly: baresip's audio to voipkit pauses, and resumes after unhold();
- baresip's hold / resume reach voipkit as RemoteHold then RemoteUnhold;
- the hang-up by the side that dialled ends the call on both sides;
- with baresip ringing (manual answer), voipkit sees 180 (CallProgress, state EARLY),
  its hangup() CANCELs (CallEnded "cancelled", answered() raises CallFailed 487,
  baresip CALL_CLOSED), and baresip's refusal of a second call raises CallFailed 486;
- an INVITE without SDP gets baresip's offer in the 200 and voipkit's answer in the
  ACK, with audio both ways.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop import peers
from interop.api_helpers import (
    Incoming,
    Trace,
    assert_tone,
    in_thread,
    kam_account,
    kamailio_errors,
    packets_received,
    phone_config,
    received_for,
    running,
    tone,
    uri_of,
    wait_until,
)
from interop.baresip import Baresip
from voipkit.api import (
    Call,
    CallEnded,
    CallFailed,
    CallProgress,
    CallState,
    CallUpdated,
    DtmfReceived,
    Phone,
    PhoneConfig,
    RemoteHold,
    RemoteUnhold,
)
from voipkit.sdp import Direction, SessionDescription
from voipkit.sip.addressing import TransportKind

pytestmark = pytest.mark.interop

BARESIP_TONE = 440.0  # baresip's microphone (its default tx.wav)
VOIPKIT_TONE = 1000.0


@pytest.fixture(scope="module")
def kam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[peers.Kamailio]:
    with peers.kamailio(tmp_path_factory.mktemp("kamailio-baresip")) as server:
        yield server
        # checked before the stop: workers log CRITICAL "EOF" lines while exiting
        assert kamailio_errors(server) == []


def _baresip(tmp_path: Path, kam: peers.Kamailio | None, *,
             answermode: str = "auto") -> Baresip:
    """baresip as ``alice``: P2P account, or registered at ``kam``."""
    if kam is None:
        return Baresip(state=tmp_path / "baresip", user="alice", answermode=answermode)
    return Baresip(state=tmp_path / "baresip", user="alice", registrar_port=kam.port,
                   password="alicepw", answermode=answermode)


def _audio_direction(sdp: SessionDescription | None) -> Direction:
    assert sdp is not None
    audio = [m for m in sdp.media if m.kind == "audio"]
    assert audio, sdp
    return sdp.media_direction(audio[0])


async def _audio_and_dtmf(call: Call, ua: Baresip, tmp_path: Path) -> None:
    """Tones both ways, then RFC 4733 digits both ways; checks both recordings."""
    recording = tmp_path / "voipkit-received.wav"
    call.record(recording)
    call.play(tone(tmp_path, VOIPKIT_TONE), loop=True)
    await received_for(call, 1.2)

    digits: list[tuple[str, str]] = []
    call.on(DtmfReceived)(lambda e: digits.append((e.digit, e.method)))
    await in_thread(ua.send_dtmf, "159#", gap=0.25)
    await wait_until(lambda: len(digits) >= 4, 5, what="baresip's digits at voipkit")

    mark = ua.mark()
    await call.send_dtmf("2*")
    assert ua.ctrl is not None
    ctrl = ua.ctrl
    await wait_until(lambda: len(ctrl.dtmf_received(since=mark)) >= 2, 5,
                     what="voipkit's digits at baresip")
    # a late duplicate digit would show up here
    await asyncio.sleep(0.3)
    assert digits == [(d, "rfc4733") for d in "159#"]
    assert ctrl.dtmf_received(since=mark) == "2*"

    call.stop_recording()
    assert_tone(recording, BARESIP_TONE)
    # baresip's dump of what it received (restarted by a re-INVITE: checked before hold)
    assert_tone(ua.last_received_wav(), VOIPKIT_TONE)


async def _voipkit_holds(call: Call, ua: Baresip) -> None:
    """voipkit hold: baresip gets the offer, answers recvonly, stops sending; unhold resumes."""
    mark = ua.mark()
    updated = asyncio.ensure_future(call.bus.wait_for(
        CallUpdated, lambda e: e.initiated_locally, timeout=5))
    await call.hold()
    await updated
    assert call.local_hold
    assert _audio_direction(call.remote_sdp) is Direction.RECVONLY
    await in_thread(ua.wait_event, "CALL_REMOTE_SDP", 5, since=mark, param="offer")
    await asyncio.sleep(0.2)  # RTP already in flight when baresip answered
    before = packets_received(call)
    await asyncio.sleep(0.5)
    assert packets_received(call) - before <= 1, "baresip kept sending while held"

    updated = asyncio.ensure_future(call.bus.wait_for(
        CallUpdated, lambda e: e.initiated_locally, timeout=5))
    await call.unhold()
    await updated
    assert not call.local_hold
    assert _audio_direction(call.remote_sdp) is Direction.SENDRECV
    await received_for(call, 0.5)


async def _baresip_holds(call: Call, ua: Baresip) -> None:
    """baresip hold / resume: RemoteHold then RemoteUnhold at voipkit, audio resumes."""
    seen: list[str] = []
    call.on(RemoteHold)(lambda e: seen.append("hold"))
    call.on(RemoteUnhold)(lambda e: seen.append("unhold"))
    held = asyncio.ensure_future(call.bus.wait_for(RemoteHold, timeout=5))
    acked = asyncio.ensure_future(call.bus.wait_for(
        CallUpdated, lambda e: not e.initiated_locally, timeout=5))
    response = await in_thread(ua.hold)
    assert response.get("ok"), response
    await held
    assert call.remote_hold
    # resume only once the hold re-INVITE is ACKed: a proxy may deliver a new re-INVITE
    # before the previous ACK, which voipkit must refuse (500 + Retry-After, RFC 3261
    # §14.2) and baresip does not retry
    await acked
    resumed = asyncio.ensure_future(call.bus.wait_for(RemoteUnhold, timeout=5))
    response = await in_thread(ua.resume)
    assert response.get("ok"), response
    await resumed
    assert not call.remote_hold
    assert seen == ["hold", "unhold"]
    await received_for(call, 0.5)


async def _connected(call: Call) -> None:
    await wait_until(lambda: call.state is CallState.CONNECTED, 5, what=f"{call!r} connected")


ROUTES = ["p2p", "kamailio"]
#: kamailio-tls: voipkit's account uses TLS to Kamailio (certificate verified), baresip UDP
ALL_ROUTES = [*ROUTES, "kamailio-tls"]


def _route(route: str, request: pytest.FixtureRequest,
           ) -> tuple[peers.Kamailio | None, PhoneConfig, TransportKind]:
    """The Kamailio (None for P2P), voipkit's phone config and its account transport."""
    if route == "p2p":
        return None, phone_config(), TransportKind.UDP
    kam: peers.Kamailio = request.getfixturevalue("kam")
    if route == "kamailio-tls":
        return kam, phone_config("tls:127.0.0.1:0", kam=kam, tls_server=True), TransportKind.TLS
    return kam, phone_config(kam=kam), TransportKind.UDP


@pytest.mark.parametrize("route", ALL_ROUTES)
def test_baresip_calls_voipkit(route: str, tmp_path: Path,
                               request: pytest.FixtureRequest) -> None:
    kam, config, kind = _route(route, request)

    async def main(ua: Baresip) -> None:
        async with running(config) as phone:
            incoming = Incoming(phone, ring=True, answer=False)
            if kam is not None:
                account = await phone.add_account(kam_account(kam, "bob", kind))
                await account.register(timeout=10)
                await in_thread(ua.wait_registered)
                target = f"sip:bob@127.0.0.1:{kam.port}"
            else:
                target = uri_of(phone, "bob")
            mark = ua.mark()
            response = await in_thread(ua.dial, target)
            assert response.get("ok"), response
            call = await incoming.next()
            # answered only once baresip saw the 180: a proxy may reorder 180 and 200
            await in_thread(ua.wait_event, "CALL_RINGING", 5, since=mark)
            await call.answer()
            await _connected(call)
            await in_thread(ua.wait_event, "CALL_ESTABLISHED", 5, since=mark)
            await _exercise(phone, call, ua, tmp_path)

            ended = asyncio.ensure_future(call.bus.wait_for(CallEnded, timeout=5))
            await in_thread(ua.hangup)
            assert (await ended).reason == "bye-remote"
            assert phone.calls == {}

    with _baresip(tmp_path, kam) as ua:
        asyncio.run(main(ua))


@pytest.mark.parametrize("route", ALL_ROUTES)
def test_voipkit_calls_baresip(route: str, tmp_path: Path,
                               request: pytest.FixtureRequest) -> None:
    kam, config, kind = _route(route, request)

    async def main(ua: Baresip) -> None:
        async with running(config) as phone:
            mark = ua.mark()
            if kam is not None:
                account = await phone.add_account(kam_account(kam, "bob", kind))
                await account.register(timeout=10)
                await in_thread(ua.wait_registered)
                call = await account.call("sip:alice@127.0.0.1")
            else:
                call = await phone.call(ua.uri)
            await call.answered(timeout=10)
            await _connected(call)
            await in_thread(ua.wait_event, "CALL_ESTABLISHED", 5, since=mark)
            await _exercise(phone, call, ua, tmp_path)

            mark = ua.mark()
            await call.hangup()
            await call.ended(timeout=5)
            assert call.end_reason == "bye-local"
            await in_thread(ua.wait_event, "CALL_CLOSED", 5, since=mark)
            assert phone.calls == {}

    with _baresip(tmp_path, kam) as ua:
        asyncio.run(main(ua))


async def _exercise(phone: Phone, call: Call, ua: Baresip, tmp_path: Path) -> None:
    trace = Trace.of(phone)
    try:
        await _audio_and_dtmf(call, ua, tmp_path)
        await _voipkit_holds(call, ua)
        await _baresip_holds(call, ua)
    except (AssertionError, TimeoutError) as exc:
        raise AssertionError(f"{exc!r}\nvoipkit's SIP trace:\n{trace.dump()}") from exc
    assert call.state is CallState.CONNECTED and phone.calls


@pytest.mark.parametrize("route", ROUTES)
def test_ringing_call_cancelled_and_rejected(route: str, tmp_path: Path,
                                             request: pytest.FixtureRequest) -> None:
    """baresip rings (manual answer): voipkit sees 180, cancels; a second call is refused."""
    kam: peers.Kamailio | None = request.getfixturevalue("kam") if route == "kamailio" else None

    async def main(ua: Baresip) -> None:
        async with running(phone_config(kam=kam)) as phone:
            if kam is not None:
                account = await phone.add_account(kam_account(kam, "bob"))
                await account.register(timeout=10)
                await in_thread(ua.wait_registered)
                dial = lambda: account.call("sip:alice@127.0.0.1")  # noqa: E731
            else:
                dial = lambda: phone.call(ua.uri)  # noqa: E731

            mark = ua.mark()
            call = await dial()
            progress = await call.bus.wait_for(CallProgress, timeout=5)
            assert progress.status == 180
            assert call.state is CallState.EARLY
            await in_thread(ua.wait_event, "CALL_INCOMING", 5, since=mark)
            await call.hangup()
            await call.ended(timeout=5)
            assert call.end_reason == "cancelled"
            with pytest.raises(CallFailed) as cancelled:
                await call.answered(timeout=1)
            assert cancelled.value.status == 487
            await in_thread(ua.wait_event, "CALL_CLOSED", 5, since=mark)

            mark = ua.mark()
            call = await dial()
            await call.bus.wait_for(CallProgress, timeout=5)
            await in_thread(ua.wait_event, "CALL_INCOMING", 5, since=mark)
            response = await in_thread(ua.hangup)
            assert response.get("ok"), response
            with pytest.raises(CallFailed) as refused:
                await call.answered(timeout=5)
            assert refused.value.status == 486  # baresip 1.0 refuses with "486 Rejected"
            await call.ended(timeout=5)
            assert phone.calls == {}

    with _baresip(tmp_path, kam, answermode="manual") as ua:
        asyncio.run(main(ua))


def test_offerless_invite_to_baresip(tmp_path: Path) -> None:
    """An INVITE without SDP: baresip offers in its 200, voipkit answers in the ACK."""
    async def main(ua: Baresip) -> None:
        async with running(phone_config()) as phone:
            mark = ua.mark()
            call = await phone.call(ua.uri, send_sdp=False)
            await call.answered(timeout=10)
            await _connected(call)
            await in_thread(ua.wait_event, "CALL_ESTABLISHED", 5, since=mark)
            assert call.codec_names in ("PCMU", "PCMA")
            recording = tmp_path / "offerless.wav"
            call.record(recording)
            call.play(tone(tmp_path, VOIPKIT_TONE), loop=True)
            await received_for(call, 1.2)
            call.stop_recording()
            assert_tone(recording, BARESIP_TONE)
            assert_tone(ua.last_received_wav(), VOIPKIT_TONE)
            await call.hangup()
            await call.ended(timeout=5)

    with _baresip(tmp_path, None) as ua:
        asyncio.run(main(ua))
