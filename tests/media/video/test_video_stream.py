"""Two sans-IO video streams exchange frames, repair loss with NACK and recover with PLI.

Proves (frames every 1/32 s, binary-exact times, an in-memory link):
- with no loss, every sent frame is decoded, PSNR >= 30 dB, for H.264 and VP8; the
  first frame is a key frame and SR/RR reports parse; an explicit PLI
  (request_remote_keyframe) brings the next key frame;
- a dropped packet is NACKed at exactly arrival + delay, the sender retransmits the
  stored datagram, and the frame is decoded with no PLI and no dropped frame;
- without NACK, the receiver skips the hole after ``max_wait``, drops frames until a key
  frame, sends a PLI at that moment (and again every ``pli_interval``); the sender's
  next frame is a key frame and decoding resumes;
- FIR with a new command sequence number asks for a key frame, a repeated one does not;
- with SRTP keys both ways, frames and retransmissions pass; a recvonly stream sends
  nothing;
- the round-trip time from the peer's report blocks (RFC 3550 §6.4.1) paces NACK retries
  at 1.5 RTT (exact deadline) and is reported in the statistics;
- a peer that restarts its stream (new SSRC) is followed once the old SSRC has been
  silent for ``ssrc_timeout`` (exactly), or at once after its RTCP BYE; before that the
  new SSRC's packets are counted as foreign and dropped.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from voipkit.base.ids import SequentialIds
from voipkit.media.rtcp import (
    RtcpByePacket,
    RtcpFirPacket,
    RtcpNackPacket,
    RtcpPliPacket,
    RtcpSrPacket,
    parse_rtcp,
)
from voipkit.media.rtp import RtpPacket
from voipkit.media.srtp import SrtpContext
from voipkit.media.video.codecs import H264, VP8, VideoCodecSpec, VideoEncoderSettings
from voipkit.media.video.frames import pattern_frame, psnr
from voipkit.media.video.stream import VideoStream, VideoStreamConfig
from voipkit.sdp import Direction, new_crypto

TICK = 0.03125
W, H = 320, 240


def pair(spec: VideoCodecSpec, *, nack: bool = True, mtu: int = 512,
         srtp: bool = False) -> tuple[VideoStream, VideoStream]:
    fmtp = dict(spec.fmtp)
    settings = VideoEncoderSettings(width=W, height=H, bitrate=600_000, mtu=mtu,
                                    remote_fmtp=fmtp)
    a_key = new_crypto(1, "AES_CM_128_HMAC_SHA1_80", SequentialIds("k1")) if srtp else None
    b_key = new_crypto(1, "AES_CM_128_HMAC_SHA1_80", SequentialIds("k2")) if srtp else None
    config = VideoStreamConfig(codec=spec, payload_type=spec.preferred_payload_type,
                               receive_codecs={spec.preferred_payload_type: spec},
                               settings=settings, nack=nack)
    alice = VideoStream(replace(config, local_crypto=a_key, remote_crypto=b_key),
                        ids=SequentialIds("a"))
    bob_ids = SequentialIds("b")
    for _ in range(10):
        bob_ids.ssrc()  # a different SSRC from alice's
    bob = VideoStream(replace(config, local_crypto=b_key, remote_crypto=a_key), ids=bob_ids)
    return alice, bob


@pytest.mark.parametrize("spec", [H264, VP8], ids=["h264", "vp8"])
def test_frames_arrive_intact(spec: VideoCodecSpec) -> None:
    alice, bob = pair(spec)
    scores = []
    for i in range(6):
        now = i * TICK
        source = pattern_frame(W, H, i)
        for datagram in alice.send_frame(source, now=now):
            bob.receive_rtp(datagram, arrival=now)
        scores += [psnr(source, frame) for frame in bob.pop_frames()]
    assert len(scores) == 6 and min(scores) >= 30, scores
    assert alice.counters.keyframes_sent == 1 and bob.counters.keyframes_received == 1
    assert alice.request_remote_keyframe() is False  # alice has heard no stream yet
    assert bob.request_remote_keyframe() is True  # an explicit PLI, decoder state aside
    (feedback,) = bob.rtcp_to_send()
    alice.receive_rtcp(feedback, arrival=6 * TICK)
    for datagram in alice.send_frame(pattern_frame(W, H, 6), now=6 * TICK):
        bob.receive_rtp(datagram, arrival=6 * TICK)
    assert bob.counters.keyframes_received == 2 and alice.counters.plis_received == 1
    assert bob.counters.frames_dropped == 0 and bob.get_timer() is None
    report = parse_rtcp(alice.build_rtcp(now=6 * TICK))
    assert isinstance(report[0], RtcpSrPacket) and report[0].packet_count > 6
    assert bob.statistics(1.0)["packets_lost"] == 0


def test_nack_recovers_a_dropped_packet() -> None:
    alice, bob = pair(H264)
    dropped: int | None = None
    decoded = 0
    for i in range(5):
        now = i * TICK
        datagrams = alice.send_frame(pattern_frame(W, H, i), now=now)
        assert len(datagrams) > 2
        for index, datagram in enumerate(datagrams):
            if i == 0 and index == 1:
                dropped = RtpPacket.parse(datagram).sequence_number
                continue  # the key frame's second packet is lost on the way
            bob.receive_rtp(datagram, arrival=now)
        if i == 0:
            assert bob.pop_frames() == []
            deadline = bob.get_timer()
            assert deadline == now + 0.01  # NackGenerator delay after the hole showed
            bob.handle_timer(now=deadline)
            (feedback,) = bob.rtcp_to_send()
            nacks = [p for p in parse_rtcp(feedback) if isinstance(p, RtcpNackPacket)]
            assert [n.lost for n in nacks] == [(dropped,)]
            resent = alice.receive_rtcp(feedback, arrival=deadline)
            assert [RtpPacket.parse(d).sequence_number for d in resent] == [dropped]
            for datagram in resent:
                bob.receive_rtp(datagram, arrival=deadline + 0.005)
        decoded += len(bob.pop_frames())
    assert decoded == 5
    assert bob.counters.plis_sent == 0 and bob.counters.frames_dropped == 0
    assert alice.counters.retransmissions == 1 and alice.counters.keyframes_sent == 1


def test_pli_brings_a_key_frame_after_unrepaired_loss() -> None:
    alice, bob = pair(VP8, nack=False)
    sent_keyframes = []
    decoded_at = []
    for i in range(12):
        now = i * TICK
        datagrams = alice.send_frame(pattern_frame(W, H, i), now=now)
        sent_keyframes.append(alice.counters.keyframes_sent)
        for datagram in datagrams:
            if i == 2:
                continue  # frame 2 is lost entirely
            bob.receive_rtp(datagram, arrival=now)
        while (deadline := bob.get_timer()) is not None and deadline <= now:
            bob.handle_timer(now=deadline)
        for feedback in bob.rtcp_to_send():
            assert any(isinstance(p, RtcpPliPacket) for p in parse_rtcp(feedback))
            alice.receive_rtcp(feedback, arrival=now)
        if bob.pop_frames():
            decoded_at.append(i)
    # Frames 3.. wait behind the hole until 3*TICK + 0.5 (max_wait), i.e. frame 18 ...
    # so skip the wait explicitly: the assembler's deadline is exact.
    assert bob.get_timer() == 3 * TICK + 0.5
    bob.handle_timer(now=3 * TICK + 0.5)
    assert bob.counters.plis_sent == 1 and bob.counters.frames_dropped == 9
    (feedback,) = bob.rtcp_to_send()
    alice.receive_rtcp(feedback, arrival=3 * TICK + 0.5)
    assert alice.counters.keyframe_requests == 1
    assert bob.get_timer() == 3 * TICK + 1.0  # the PLI is repeated if no key frame comes
    for datagram in alice.send_frame(pattern_frame(W, H, 12), now=12 * TICK):
        bob.receive_rtp(datagram, arrival=12 * TICK)
    frames = bob.pop_frames()
    assert len(frames) == 1 and psnr(pattern_frame(W, H, 12), frames[0]) >= 30
    assert alice.counters.keyframes_sent == 2 and decoded_at == [0, 1]
    assert bob.get_timer() is None


def test_fir_sequence_numbers() -> None:
    alice, bob = pair(VP8)
    fir = bytes(RtcpFirPacket(sender_ssrc=bob.ssrc, entries=((alice.ssrc, 7),)))
    alice.receive_rtcp(fir, arrival=0)
    alice.receive_rtcp(fir, arrival=0.1)  # a repetition of the same request
    assert alice.counters.keyframe_requests == 1
    alice.receive_rtcp(bytes(RtcpFirPacket(bob.ssrc, ((alice.ssrc, 8),))), arrival=0.2)
    alice.receive_rtcp(bytes(RtcpFirPacket(bob.ssrc, ((12345, 9),))), arrival=0.3)
    assert alice.counters.keyframe_requests == 2 and alice.counters.firs_received == 2


def test_srtp_and_direction() -> None:
    alice, bob = pair(H264, srtp=True)
    first = alice.send_frame(pattern_frame(W, H, 0), now=0)
    assert len(first) > 2 and all(RtpPacket.parse(d).payload_type == 125 for d in first)
    keys = alice.config
    assert keys.local_crypto is not None and keys.remote_crypto is not None
    plain = SrtpContext(keys.remote_crypto, keys.local_crypto).unprotect(first[0])
    assert plain is not None and len(plain) == len(first[0]) - 10  # the 80-bit tag
    assert RtpPacket.parse(plain).payload != RtpPacket.parse(first[0]).payload
    for datagram in first[:1] + first[2:]:
        bob.receive_rtp(datagram, arrival=0)
    bob.handle_timer(now=bob.get_timer() or 0)
    resent = alice.receive_rtcp(bob.rtcp_to_send()[0], arrival=0.02)
    assert resent == first[1:2]
    bob.receive_rtp(resent[0], arrival=0.03)
    assert len(bob.pop_frames()) == 1
    quiet = VideoStream(replace(alice.config, direction=Direction.RECVONLY, local_crypto=None,
                                remote_crypto=None), ids=SequentialIds("q"))
    assert quiet.send_frame(pattern_frame(W, H, 0), now=0) == []


def skipped_ids(count: int) -> SequentialIds:
    """Ids whose SSRCs differ from a fresh SequentialIds' (they all count from 1)."""
    ids = SequentialIds("x")
    for _ in range(count):
        ids.ssrc()
    return ids


def test_a_restarted_peer_stream_is_followed() -> None:
    alice, bob = pair(VP8)
    for i in range(2):
        for datagram in alice.send_frame(pattern_frame(W, H, i), now=i * TICK):
            bob.receive_rtp(datagram, arrival=i * TICK)
    assert len(bob.pop_frames()) == 2 and bob.remote_ssrc == alice.ssrc
    restarted = VideoStream(alice.config, ids=skipped_ids(20))
    assert restarted.ssrc != alice.ssrc
    last = 1 * TICK  # the old SSRC's last packet
    for datagram in restarted.send_frame(pattern_frame(W, H, 10), now=last + 0.25):
        bob.receive_rtp(datagram, arrival=last + 0.25)
    assert bob.pop_frames() == [] and bob.counters.foreign_ssrc > 0
    for datagram in restarted.send_frame(pattern_frame(W, H, 11), now=last + 0.5):
        bob.receive_rtp(datagram, arrival=last + 0.5)  # 0.5 s of silence: switch
    assert bob.remote_ssrc == restarted.ssrc
    # frame 11 is no key frame (10 was, and was dropped): a PLI asks for one
    assert bob.pop_frames() == [] and bob.counters.plis_sent == 1
    (feedback,) = bob.rtcp_to_send()
    restarted.receive_rtcp(feedback, arrival=last + 0.5)
    for datagram in restarted.send_frame(pattern_frame(W, H, 12), now=last + 0.53125):
        bob.receive_rtp(datagram, arrival=last + 0.53125)
    (frame,) = bob.pop_frames()
    assert psnr(pattern_frame(W, H, 12), frame) >= 30
    # BYE: the next source is taken at once
    third = VideoStream(alice.config, ids=skipped_ids(30))
    bye = bytes(RtcpByePacket((restarted.ssrc,)))
    bob.receive_rtcp(bye, arrival=last + 0.6)
    for datagram in third.send_frame(pattern_frame(W, H, 20), now=last + 0.6):
        bob.receive_rtp(datagram, arrival=last + 0.6)
    assert bob.remote_ssrc == third.ssrc and len(bob.pop_frames()) == 1


def test_rtt_paces_nack_retries() -> None:
    alice, bob = pair(H264)
    for datagram in alice.send_frame(pattern_frame(W, H, 0), now=0.0):
        bob.receive_rtp(datagram, arrival=0.0)
    bob.pop_frames()
    # alice's SR at 1.0 reaches bob at 1.2; bob reports 0.5 s later; alice hears it at 1.9
    bob.receive_rtcp(alice.build_rtcp(now=1.0), arrival=1.2)
    alice.receive_rtcp(bob.build_rtcp(now=1.7), arrival=1.9)
    assert alice.rtt is not None and abs(alice.rtt - 0.4) < 1e-4
    assert alice.statistics(2.0)["rtt"] == alice.rtt
    # now bob sends to alice and loses a packet: alice retries its NACK every 0.6 s
    sent = bob.send_frame(pattern_frame(W, H, 1), now=2.0)
    assert len(sent) > 2
    for index, datagram in enumerate(sent):
        if index != 1:
            alice.receive_rtp(datagram, arrival=2.0)
    first = alice.get_timer()
    assert first == 2.0 + 0.01
    alice.handle_timer(now=first)
    assert alice.counters.nacks_sent == 1
    assert alice.get_timer() == first + 1.5 * alice.rtt
