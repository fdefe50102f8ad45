"""The facade's video functions between two PortSIPLib on 127.0.0.1.

Proves, through the vendor-shaped facade:
- addVideoCodec / clearVideoCodec / isVideoCodecEmpty / setVideoCodecPayloadType /
  setVideoCodecParameter shape the video m= line (VP9 can be added); H.263 and I420
  are refused with INVALID_ARGUMENT; setVideoMTU keeps 512-65507 and turns anything
  else into 1450 (the manual); setVideoResolution refuses odd sizes; nothing works
  before initialize;
- call(videoCall=True) + answerCall(videoCall=True): the callee's onInviteIncoming says
  existsVideo with videoCodecNames "H264#VP8"; I420 frames pushed with
  enableSendVideoStreamToRemote + sendVideoStreamToRemote arrive in the callee's
  remote video window (a frame sink) with their index and PSNR >= 30 dB at 640x480;
  onVideoRawCallback reports received frames as I420 of the right size; setVideoBitrate,
  setVideoFrameRate (5-30), sendVideo and muteSession act on the call;
- updateCall(enableVideo=True) adds video to an audio call (the callee's
  onInviteUpdated says existsVideo, and its window gets frames), enableVideo=False
  removes it again (the screen stream: test_portsip_screen_stream.py);
- with clearVideoCodec, videoCall=True gives an audio-only call;
- the virtual camera is device 0, and here the only one (getNumOfVideoCaptureDevices,
  getVideoCaptureDeviceName with the manual's 128-byte rule, setVideoDeviceId);
  setVideoOrientation(90) makes the callee receive 480x640 frames; displayLocalVideo
  shows the sent frames, mirrored; enableVideoQos marks the video sockets DSCP 34;
  setVideoRtcpBandwidth puts b=AS/RS/RR on the video line of the next offer.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import numpy as np
from tests.compat.conftest import Recorder, sip_port

from voipkit.compat.portsip import (
    DIRECTION_MODE,
    VIDEOCODEC_TYPE,
    ErrorCode,
    PortSIPLib,
    SIPCallbackEvents,
    StringBuilder,
)
from voipkit.media.video import (
    VideoFrame,
    mirror,
    pattern_frame,
    pattern_index,
    psnr,
    rotate,
)

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
    assert alice.addVideoCodec(int(VIDEOCODEC_TYPE.VIDEO_CODEC_VP9)) == 0
    assert phone.video.codecs == ["VP8", "H264", "VP9"]
    assert [c.encoding for c in phone.video.capabilities()][-1] == "VP9"
    for refused in (VIDEOCODEC_TYPE.VIDEO_CODEC_H263, VIDEOCODEC_TYPE.VIDEO_CODEC_H263_1998,
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
    caller_ready = threading.Event()

    def answer(sid: int, *rest: Any) -> None:
        incoming.append((sid, *rest))
        assert caller_ready.wait(5)  # the caller pushes frames before video flows
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
    caller_ready.set()
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
    assert alice.updateCall(sid, False, True, False) == ErrorCode.INVALID_ARGUMENT
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


def test_devices_orientation_preview_qos_bandwidth(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    assert alice.getNumOfVideoCaptureDevices() == 1
    unique, name = StringBuilder(), StringBuilder()
    assert alice.getVideoCaptureDeviceName(-1, unique, 64, name, 128) == 0
    assert (str(unique), str(name)) == ("voipkit:pattern", "voipkit test pattern")
    assert alice.getVideoCaptureDeviceName(1, unique, 64, name, 128) == (
        ErrorCode.INVALID_ARGUMENT)
    assert alice.getVideoCaptureDeviceName(0, unique, 64, name, 64) == (
        ErrorCode.INVALID_ARGUMENT)
    assert alice.getVideoCaptureDeviceName(0, unique, 4, name, 128) == (
        ErrorCode.BUFFER_TOO_SMALL)
    assert alice.setVideoDeviceId(0) == 0 and alice.setVideoDeviceId(3) == (
        ErrorCode.INVALID_ARGUMENT)
    assert alice.setVideoOrientation(45) == ErrorCode.INVALID_ARGUMENT
    assert alice.setVideoOrientation(90) == 0
    assert alice.enableVideoQos(True) == 0
    local = Window(3)
    assert alice.displayLocalVideo(True, True, None) == ErrorCode.INVALID_ARGUMENT
    assert alice.displayLocalVideo(True, True, local) == 0
    window = Window(3)

    def answer(sid: int, *rest: Any) -> None:
        assert bob.answerCall(sid, True) == 0
        assert bob.setRemoteVideoWindow(sid, window) == 0

    bob_events.hooks["onInviteIncoming"] = answer
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, True)
    assert sid > 0
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    assert window.done.wait(10) and local.done.wait(10)
    assert {(f.width, f.height) for f in window.frames} == {(480, 640)}
    for frame in local.frames:  # what was sent: turned, then shown mirrored
        assert (frame.width, frame.height) == (480, 640)
        index = pattern_index(rotate(mirror(frame), 270))
        assert np.array_equal(frame.data, mirror(rotate(pattern_frame(640, 480, index), 90)).data)
    call = alice.phone.call_by_id(sid) if alice.phone is not None else None
    assert call is not None and call.video is not None
    tos = call.video.session.sockets.rtp_socket.getsockopt(socket.IPPROTO_IP, socket.IP_TOS)
    assert tos == 34 << 2
    assert alice.setVideoRtcpBandwidth(sid, 2000, 1000, 300) == 0
    assert alice.updateCall(sid, True, True, False) == 0
    bob_sid = bob_events.wait("onInviteUpdated")[0]
    bob_call = bob.phone.call_by_id(bob_sid) if bob.phone is not None else None
    assert bob_call is not None and bob_call.remote_sdp is not None
    offered = str(bob_call.remote_sdp)
    video = offered[offered.index("m=video"):]
    assert "b=AS:300\r\n" in video and "b=RS:1000\r\n" in video and "b=RR:2000\r\n" in video
    assert "b=AS" not in offered[:offered.index("m=video")]  # the audio line has none
    assert alice.displayLocalVideo(False, False, None) == 0
    assert alice.hangUp(sid) == 0
