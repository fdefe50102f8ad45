"""Two Phones on 127.0.0.1 make a video call through the public API.

Proves (real sockets, SIP, SDP offer/answer, RTP both ways):
- ``phone.call(uri, video=True)`` offers audio and video (H.264 and VP8 with rtcp-fb);
  ``call.answer(video=True)`` accepts both; each side decodes the other's test pattern
  at 640x480 with the barcode index it was sent with and PSNR >= 30 dB;
- the phone's video settings choose the codec (VP8 first) and its payload type; VP9
  (RFC 9628), off by default, carries the pattern too once both phones enable it;
- answering without video rejects the video line (port 0) and the call goes on
  with audio only; a re-INVITE (hold) keeps the video line in the offer;
- ``call.update(video=True)`` adds video to an audio call (both sides then exchange
  frames), ``update(video=False)`` removes it: the video m= line stays with port 0,
  the peer stops its video, and later offers (hold) keep the line count;
- with SRTP forced (SDES), the video line is RTP/SAVP with its own keys and the
  pattern still arrives intact;
- a VideoFileSink attached to the received video leaves an MP4 whose frames are the
  sent pattern (index in order, PSNR >= 30 dB);
- hanging up closes the video sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import av
import numpy as np

from voipkit import api
from voipkit.api import CallUpdated, IncomingCall, Phone, PhoneConfig
from voipkit.api.video import VideoFileSink
from voipkit.media.srtp import SrtpPolicy
from voipkit.media.video import VideoFrame, pattern_frame, pattern_index, psnr
from voipkit.sdp import SessionDescription


def _config(**media: Any) -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(40000, 44999), **media))


class Frames:
    def __init__(self, wanted: int) -> None:
        self.frames: list[VideoFrame] = []
        self.wanted = wanted
        self.done = asyncio.Event()

    def __call__(self, frame: VideoFrame) -> None:
        self.frames.append(frame)
        if len(self.frames) >= self.wanted:
            self.done.set()


def run(body: Callable[[Phone, Phone, str], Coroutine[Any, Any, None]],
        **media: Any) -> None:
    async def main() -> None:
        alice, bob = Phone(_config(**media)), Phone(_config(**media))
        await alice.start()
        await bob.start()
        try:
            _, host, port = bob.listening[0]
            await body(alice, bob, f"sip:bob@{host}:{port}")
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def check(frames: list[VideoFrame]) -> None:
    for frame in frames:
        assert (frame.width, frame.height) == (640, 480)
        index = pattern_index(frame)
        assert psnr(pattern_frame(640, 480, index), frame) >= 30.0


def test_video_call_both_ways() -> None:
    async def body(alice: Phone, bob: Phone, uri: str) -> None:
        at_bob, at_alice = Frames(8), Frames(8)

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer(video=True)
            assert event.call.video is not None
            event.call.video.add_sink(at_bob)

        call = await alice.call(uri, video=True)
        assert call.video is not None
        call.video.add_sink(at_alice)
        await call.answered(timeout=5)
        offer = call.invite
        assert offer is not None
        sdp = SessionDescription.parse(offer.body)
        assert [m.kind for m in sdp.media] == ["audio", "video"]
        assert sdp.media[1].formats == ["125", "96", "120"]
        await asyncio.wait_for(asyncio.gather(at_bob.done.wait(), at_alice.done.wait()), 15)
        check(at_bob.frames)
        check(at_alice.frames)
        video = call.video
        assert video.negotiated is not None and video.negotiated.send_codec.encoding == "H264"
        assert video.negotiated.rtcp_fb == frozenset({"nack", "nack pli", "ccm fir"})
        session = video.session
        await call.hangup()
        await call.ended(timeout=5)
        assert session.closed

    run(body)


def test_codec_order_and_payload_type() -> None:
    async def body(alice: Phone, bob: Phone, uri: str) -> None:
        alice.video.codecs = ["VP8", "H264"]
        alice.video.payload_types["VP8"] = 100
        alice.video.set_resolution(640, 480)
        at_bob = Frames(3)

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer(video=True)
            assert event.call.video is not None
            event.call.video.add_sink(at_bob)

        call = await alice.call(uri, video=True)
        await call.answered(timeout=5)
        await asyncio.wait_for(at_bob.done.wait(), 10)
        check(at_bob.frames)
        assert call.video is not None and call.video.negotiated is not None
        assert call.video.negotiated.send_codec.encoding == "VP8"
        assert call.video.negotiated.send_codec.payload_type == 100
        await call.hangup()

    run(body)


def test_answer_without_video() -> None:
    async def body(alice: Phone, bob: Phone, uri: str) -> None:
        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer()

        call = await alice.call(uri, video=True)
        await call.answered(timeout=5)
        assert call.video is not None and not call.video.active
        remote = call.remote_sdp
        assert remote is not None and remote.media[1].port == 0
        assert call.negotiated is not None and call.negotiated.kind == "audio"
        updated = asyncio.Event()
        call.on(CallUpdated)(lambda event: updated.set())
        await call.hold()
        await asyncio.wait_for(updated.wait(), 5)
        remote = call.remote_sdp
        assert remote is not None and remote.origin.sess_version == 2
        assert [(m.kind, m.port) for m in remote.media][1] == ("video", 0)
        await call.hangup()

    run(body)


def test_update_adds_and_removes_video() -> None:
    async def body(alice: Phone, bob: Phone, uri: str) -> None:
        at_alice, at_bob = Frames(3), Frames(3)
        bob_calls: list[api.Call] = []

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer(video=True)  # ready for video, offered none yet
            bob_calls.append(event.call)

        call = await alice.call(uri)
        await call.answered(timeout=5)
        assert call.video is None
        updates: asyncio.Queue[object] = asyncio.Queue()
        call.on(CallUpdated)(updates.put_nowait)

        await call.update(video=True)
        await asyncio.wait_for(updates.get(), 5)
        assert call.video is not None and call.video.active
        call.video.add_sink(at_alice)
        (bob_call,) = bob_calls
        assert bob_call.video is not None and bob_call.video.active
        bob_call.video.add_sink(at_bob)
        await asyncio.wait_for(asyncio.gather(at_alice.done.wait(), at_bob.done.wait()), 10)
        check(at_alice.frames)
        check(at_bob.frames)

        await call.update(video=False)
        await asyncio.wait_for(updates.get(), 5)
        remote = call.remote_sdp
        assert remote is not None and [(m.kind, m.port) for m in remote.media][1] == ("video", 0)
        assert not call.video.active and call.video.session.closed
        assert not bob_call.video.active and not bob_call.video.session.running

        await call.hold()
        await asyncio.wait_for(updates.get(), 5)
        remote = call.remote_sdp
        assert remote is not None and [m.kind for m in remote.media] == ["audio", "video"]
        await call.hangup()

    run(body)


def test_video_with_srtp() -> None:
    async def body(alice: Phone, bob: Phone, uri: str) -> None:
        at_bob = Frames(4)

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer(video=True)
            assert event.call.video is not None
            event.call.video.add_sink(at_bob)

        call = await alice.call(uri, video=True)
        await call.answered(timeout=5)
        await asyncio.wait_for(at_bob.done.wait(), 10)
        check(at_bob.frames)
        assert call.video is not None and call.video.negotiated is not None
        negotiated = call.video.negotiated
        assert negotiated.local_crypto is not None and negotiated.remote_crypto is not None
        assert call.negotiated is not None and call.negotiated.local_crypto is not None
        assert negotiated.local_crypto.key_params != call.negotiated.local_crypto.key_params
        remote = call.remote_sdp
        assert remote is not None and [m.proto for m in remote.media] == ["RTP/SAVP"] * 2
        await call.hangup()

    run(body, srtp_policy=SrtpPolicy.FORCE, allow_srtp_over_unsecure_transport=True)


def test_received_video_to_a_file(tmp_path: Path) -> None:
    path = tmp_path / "received.mp4"

    async def body(alice: Phone, bob: Phone, uri: str) -> None:
        at_bob = Frames(6)
        sink = VideoFileSink(path, frame_rate=15)

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer(video=True)
            assert event.call.video is not None
            event.call.video.add_sink(sink)
            event.call.video.add_sink(at_bob)

        call = await alice.call(uri, video=True)
        await call.answered(timeout=5)
        await asyncio.wait_for(at_bob.done.wait(), 10)
        await call.hangup()
        await call.ended(timeout=5)
        sink.close()

    run(body)
    with av.open(str(path)) as container:
        frames = [VideoFrame(np.asarray(f.reformat(format="yuv420p").to_ndarray(),
                                        dtype=np.uint8)) for f in container.decode(video=0)]
    assert len(frames) >= 6
    indexes = [pattern_index(f) for f in frames]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    check(frames)


def test_vp9_when_enabled() -> None:
    async def body(alice: Phone, bob: Phone, uri: str) -> None:
        alice.video.codecs = ["VP9"]
        bob.video.codecs = ["H264", "VP8", "VP9"]
        at_bob = Frames(4)

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer(video=True)
            assert event.call.video is not None
            event.call.video.add_sink(at_bob)

        call = await alice.call(uri, video=True)
        await call.answered(timeout=5)
        await asyncio.wait_for(at_bob.done.wait(), 10)
        check(at_bob.frames)
        assert call.video is not None and call.video.negotiated is not None
        assert call.video.negotiated.send_codec.encoding == "VP9"
        assert call.video.negotiated.send_codec.payload_type == 122
        await call.hangup()

    run(body)
