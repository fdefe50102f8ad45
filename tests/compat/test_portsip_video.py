"""The facade's video functions between two PortSIPLib on 127.0.0.1.

Proves, through the vendor-shaped facade:
- addVideoCodec / clearVideoCodec / isVideoCodecEmpty / setVideoCodecPayloadType /
  setVideoCodecParameter shape the video m= line; VP9, H.263 and I420 are refused with
  INVALID_ARGUMENT; setVideoMTU keeps 512-65507 and turns anything else into 1450 (the
  manual); setVideoResolution refuses odd sizes; nothing works before initialize;
- call(videoCall=True) + answerCall(videoCall=True): the callee's onInviteIncoming says
  existsVideo with videoCodecNames "H264#VP8"; I420 frames pushed with
  enableSendVideoStreamToRemote + sendVideoStreamToRemote arrive in the callee's
  remote video window (a frame sink) with their index and PSNR >= 30 dB at 640x480;
  onVideoRawCallback reports received frames as I420 of the right size; setVideoBitrate,
  setVideoFrameRate (5-30), sendVideo and muteSession act on the call;
- updateCall(enableVideo=True) adds video to an audio call (the callee's
  onInviteUpdated says existsVideo, and its window gets frames), enableVideo=False
  removes it again; enableScreen is refused with INVALID_ARGUMENT;
- with clearVideoCodec, videoCall=True gives an audio-only call.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.compat.conftest import Recorder, sip_port

from voipkit.compat.portsip import (
    DIRECTION_MODE,
    VIDEOCODEC_TYPE,
    ErrorCode,
    PortSIPLib,
    SIPCallbackEvents,
)
from voipkit.media.video import VideoFrame, pattern_frame, pattern_index, psnr

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]
H264 = int(VIDEOCODEC_TYPE.VIDEO_CODEC_H264)
VP8 = int(VIDEOCODEC_TYPE.VIDEO_CODEC_VP8)
RECV = int(DIRECTION_MODE.DIRECTION_RECV)


def test_codec_and_settings_functions(pair: Pair) -> None:
    alice, _, _, _ = pair
    phone = alice.phone
    assert phone is not None
    assert not alice.isVideoCodecEmpty()
    assert alice.clearVideoCodec() == 0 and alice.isVideoCodecEmpty()
    assert alice.addVideoCodec(VP8) == 0 and alice.addVideoCodec(H264) == 0
    assert alice.addVideoCodec(VP8) == 0  # already there: the order stays
    assert phone.video.codecs == ["VP8", "H264"]
    for refused in (VIDEOCODEC_TYPE.VIDEO_CODEC_VP9, VIDEOCODEC_TYPE.VIDEO_CODEC_H263,
                    VIDEOCODEC_TYPE.VIDEO_CODEC_I420, 4711):
        assert alice.addVideoCodec(int(refused)) == ErrorCode.INVALID_ARGUMENT
    assert alice.setVideoCodecPayloadType(VP8, 99) == 0
    assert alice.setVideoCodecPayloadType(VP8, 34) == ErrorCode.INVALID_ARGUMENT
    assert alice.setVideoCodecParameter(
        H264, "profile-level-id=420033; packetization-mode=0") == 0
    caps = {c.encoding: c for c in phone.video.capabilities()}
    assert caps["VP8"].payload_type == 99
    assert caps["H264"].fmtp == {"profile-level-id": "420033", "packetization-mode": "0"}
    assert alice.setVideoCodecParameter(H264, "") == 0
    assert phone.video.capabilities()[1].fmtp["packetization-mode"] == "1"
    assert alice.setVideoMTU(1200) == 0 and phone.video.mtu == 1200
    assert alice.setVideoMTU(100) == 0 and phone.video.mtu == 1450  # the manual's rule
    assert alice.setVideoResolution(320, 240) == 0 and phone.video.width == 320
    assert alice.setVideoResolution(321, 240) == ErrorCode.INVALID_ARGUMENT
    assert alice.setVideoNackStatus(False) == 0 and phone.video.nack is False
    assert alice.setVideoBitrate(12345, 500) == ErrorCode.INVALID_SESSION_ID
    assert alice.setVideoFrameRate(1, 31) == ErrorCode.INVALID_ARGUMENT
    fresh = PortSIPLib(SIPCallbackEvents())
    assert fresh.addVideoCodec(H264) == ErrorCode.NOT_INITIALIZED
    assert fresh.isVideoCodecEmpty()


class Window:
    def __init__(self, wanted: int) -> None:
        self.frames: list[VideoFrame] = []
        self.wanted = wanted
        self.done = threading.Event()
        self.threads: set[str] = set()

    def __call__(self, frame: VideoFrame) -> None:
        self.threads.add(threading.current_thread().name)
        self.frames.append(frame)
        if len(self.frames) >= self.wanted:
            self.done.set()


def test_video_call_with_pushed_frames(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    window = Window(5)
    incoming: list[tuple[Any, ...]] = []

    def answer(sid: int, *rest: Any) -> None:
        incoming.append((sid, *rest))
        assert bob.answerCall(sid, True) == 0
        assert bob.setRemoteVideoWindow(sid, window) == 0
        assert bob.enableVideoStreamCallback(sid, RECV) == 0

    bob_events.hooks["onInviteIncoming"] = answer
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, True)
    assert sid > 0
    assert alice.enableSendVideoStreamToRemote(sid, True) == 0
    sent = pattern_frame(640, 480, 4242)
    raw = sent.to_i420()
    assert alice.sendVideoStreamToRemote(sid, raw, len(raw), 640, 480) == 0
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    assert window.done.wait(10)
    # (caller, caller display, callee display, callee, audio, video, has audio, has video)
    audio_names, video_names, has_audio, has_video = incoming[0][5:9]
    assert video_names == "H264#VP8" and has_video and has_audio and audio_names
    for frame in window.frames:
        assert pattern_index(frame) == 4242 and psnr(sent, frame) >= 30
    assert window.threads and "portsip" in "".join(window.threads)
    (bob_sid, kind, width, height, data, length) = bob_events.wait("onVideoRawCallback")
    assert bob_sid == incoming[0][0]
    assert (kind, width, height, length, len(data)) == (RECV, 640, 480, 460800, 460800)
    assert pattern_index(VideoFrame.from_i420(data, 640, 480)) == 4242
    assert alice.setVideoBitrate(sid, 800) == 0
    assert alice.setVideoFrameRate(sid, 10) == 0
    assert alice.setVideoFrameRate(sid, 31) == ErrorCode.INVALID_ARGUMENT
    assert alice.sendVideo(sid, False) == 0
    assert alice.muteSession(sid, False, False, True, True) == 0
    assert alice.sendVideoStreamToRemote(sid, raw, len(raw), 640, 481) == (
        ErrorCode.INVALID_ARGUMENT)
    assert alice.enableSendVideoStreamToRemote(sid, False) == 0
    assert alice.sendVideoStreamToRemote(sid, raw, len(raw), 640, 480) == (
        ErrorCode.INVALID_STATE)
    assert alice.hangUp(sid) == 0


def test_no_video_codec_means_audio_only(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    assert alice.clearVideoCodec() == 0
    bob_events.hooks["onInviteIncoming"] = lambda sid, *rest: bob.answerCall(sid, True)
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, True)
    assert sid > 0
    args = bob_events.wait("onInviteIncoming")
    assert args[7] is True and args[8] is False and args[6] == ""  # audio, no video
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    assert alice.sendVideo(sid, True) == ErrorCode.INVALID_STATE  # the call has no video
    assert alice.hangUp(sid) == 0


def test_update_call_adds_and_removes_video(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    window = Window(3)
    bob_sids: list[int] = []

    def answer(sid: int, *rest: Any) -> None:
        bob_sids.append(sid)
        assert bob.answerCall(sid, True) == 0

    bob_events.hooks["onInviteIncoming"] = answer
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, False)
    assert sid > 0
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    bob_events.wait("onInviteConnected")
    assert alice.updateCall(sid, True, False, True) == ErrorCode.INVALID_ARGUMENT
    assert alice.updateCall(sid, True, True, False) == 0
    updated = bob_events.wait("onInviteUpdated")
    # (sessionId, audioCodecNames, videoCodecNames, existsAudio, existsVideo, ...)
    assert updated[0] == bob_sids[0] and updated[3] is True
    assert updated[2] == "H264#VP8" and updated[4] is True
    assert bob.setRemoteVideoWindow(bob_sids[0], window) == 0
    assert window.done.wait(10)
    assert alice.updateCall(sid, True, False, False) == 0
    removed = bob_events.wait("onInviteUpdated", count=2)
    assert removed[2] == "" and removed[4] is False
    assert alice.hangUp(sid) == 0
