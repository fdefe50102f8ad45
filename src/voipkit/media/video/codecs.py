"""Video codecs over PyAV, as rows of a table, and the registry that finds them.

Knows: what SDP says about a video codec (rtpmap name, 90 kHz clock, preferred
payload type, fmtp, the RFC 4585 feedback it accepts), which FFmpeg encoder and decoder
run it and with which real-time options, and which RTP payload format carries it.
Must not know: SDP text, RTP headers, sockets or the clock.

What the PyAV wheel can do is probed, not assumed (``VideoCodecSpec.available``); a
row whose encoder, decoder or RTP payload format is missing is never offered. Two
rows (H.264, VP8) are offered by default; VP9 (RFC 9628, non-scalable) runs too and is
offered when enabled (``ALL_VIDEO_CODECS``, docs/codecs.md).

H.264 (RFC 6184 §8.1): ``profile-level-id`` 42e01f (constrained baseline, level 3.1)
with ``packetization-mode`` 1, then again with mode 0 on the next payload type, are
offered. The packetization mode used to send follows
the peer's fmtp (0 when absent, RFC 6184 §8.1); in mode 0 x264 cuts slices to fit the
MTU (``slice-max-size``), because single NAL unit mode cannot fragment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from types import MappingProxyType

import av
import numpy as np
from av.video.frame import PictureType

from voipkit.media.codecs.pyav import can_decode, can_encode
from voipkit.media.video.frames import VideoFrame
from voipkit.media.video.h264 import NAL_SEI, H264PayloadFormat, join_annex_b, split_annex_b
from voipkit.media.video.payload import DEFAULT_MTU, PayloadFormat, max_payload_for_mtu
from voipkit.media.video.vp8 import Vp8PayloadFormat
from voipkit.media.video.vp9 import Vp9PayloadFormat
from voipkit.sdp import CodecCapability

__all__ = [
    "ALL_VIDEO_CODECS",
    "DEFAULT_VIDEO_CODECS",
    "H264",
    "VIDEO_CLOCK_RATE",
    "VP8",
    "VP9",
    "EncodedFrame",
    "VideoCodecRegistry",
    "VideoCodecSpec",
    "VideoDecoder",
    "VideoEncoder",
    "VideoEncoderSettings",
]

VIDEO_CLOCK_RATE = 90_000  # RFC 6184 §8.1, RFC 7741 §6.1: "the clock rate MUST be 90000"
#: RFC 4585 §4.2 / RFC 5104 §7.1 feedback voipkit sends and honours.
RTCP_FEEDBACK = ("nack", "nack pli", "ccm fir")


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded frame (an H.264 access unit in Annex B, or a VP8 frame)."""

    data: bytes
    keyframe: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoEncoderSettings:
    """How to encode: size, frame rate (the manual's 5-30), bits per second, and the
    RTP packet size the payload format must respect."""

    width: int = 640
    height: int = 480
    frame_rate: int = 30
    bitrate: int = 1_000_000
    mtu: int = DEFAULT_MTU
    remote_fmtp: Mapping[str, str] | None = None
    "The peer's fmtp for the codec (None: as we offer it)."

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(f"video size {self.width}x{self.height} must be positive and even")
        if not 1 <= self.frame_rate <= 60:
            raise ValueError(f"frame rate {self.frame_rate} is outside 1-60")
        if self.bitrate < 10_000:
            raise ValueError(f"video bitrate {self.bitrate} bit/s is below 10 kbit/s")
        max_payload_for_mtu(self.mtu)


class VideoEncoder:
    """One FFmpeg video encoder fed I420 frames, tuned for real time (no B-frames,
    no lookahead, one thread: one encoded frame out per frame in)."""

    def __init__(self, codec: str, settings: VideoEncoderSettings,
                 options: Mapping[str, str] = MappingProxyType({}),
                 rewrite: Callable[[bytes], bytes] | None = None) -> None:
        self.codec = codec
        self._rewrite = rewrite
        self.settings = settings
        self.options = dict(options)
        self._ctx = self._open(settings.width, settings.height)
        self._pts = 0
        self.keyframes = 0

    def _open(self, width: int, height: int) -> av.VideoCodecContext:
        ctx = av.CodecContext.create(self.codec, "w")
        assert isinstance(ctx, av.VideoCodecContext)
        ctx.width = width
        ctx.height = height
        ctx.pix_fmt = "yuv420p"
        ctx.framerate = Fraction(self.settings.frame_rate)
        ctx.time_base = Fraction(1, self.settings.frame_rate)
        ctx.bit_rate = self.settings.bitrate
        ctx.gop_size = self.settings.frame_rate * 60  # key frames on request (PLI/FIR)
        ctx.max_b_frames = 0
        # One thread per stream: libvpx's worker threads, with the CPU shared, made an
        # encode cost ~100 ms instead of ~2 ms here (they wait for descheduled siblings).
        ctx.thread_count = 1
        ctx.options = dict(self.options)
        ctx.open()
        return ctx

    def encode(self, frame: VideoFrame, *, keyframe: bool = False) -> list[EncodedFrame]:
        """Encode one frame (a size change reopens the encoder and starts with a key
        frame); ``keyframe`` forces an intra frame (the answer to PLI/FIR)."""
        if (frame.width, frame.height) != (self._ctx.width, self._ctx.height):
            self._ctx = self._open(frame.width, frame.height)
            keyframe = True
        av_frame = av.VideoFrame.from_ndarray(frame.data, format="yuv420p")
        av_frame.pts = self._pts
        self._pts += 1
        if keyframe:
            av_frame.pict_type = PictureType.I
        out = [EncodedFrame(self._rewrite(bytes(p)) if self._rewrite else bytes(p),
                            bool(p.is_keyframe)) for p in self._ctx.encode(av_frame)]
        self.keyframes += sum(1 for e in out if e.keyframe)
        return out

    def set_bitrate(self, bitrate: int) -> None:
        """Change the target bits per second (takes effect on a reopened encoder)."""
        self.settings = replace(self.settings, bitrate=bitrate)
        self._ctx = self._open(self._ctx.width, self._ctx.height)


class VideoDecoder:
    """One FFmpeg video decoder: encoded frames in, I420 frames out.

    Corrupt input is counted (``errors``) and yields no frame, never an exception.
    """

    def __init__(self, codec: str) -> None:
        self.codec = codec
        ctx = av.CodecContext.create(codec, "r")
        assert isinstance(ctx, av.VideoCodecContext)
        ctx.thread_count = 1  # frame threading would hold decoded frames back
        self._ctx = ctx
        self.errors = 0

    def decode(self, data: bytes) -> list[VideoFrame]:
        try:
            frames = self._ctx.decode(av.Packet(data))
        except av.FFmpegError:
            self.errors += 1
            return []
        out: list[VideoFrame] = []
        for frame in frames:
            assert isinstance(frame, av.VideoFrame)
            if frame.format.name != "yuv420p" or frame.width % 2 or frame.height % 2:
                frame = frame.reformat(width=frame.width // 2 * 2,
                                       height=frame.height // 2 * 2, format="yuv420p")
            out.append(VideoFrame(np.asarray(frame.to_ndarray(format="yuv420p"),
                                             dtype=np.uint8)))
        return out


def _strip_sei(access_unit: bytes) -> bytes:
    # x264 puts a ~600-byte SEI (its version and options, user data unregistered) in
    # the first access unit; it carries nothing a decoder needs and would not fit a
    # single NAL unit packet, so SEI NAL units are not sent.
    nals = split_annex_b(access_unit)
    return join_annex_b(n for n in nals if n[0] & 0x1F != NAL_SEI)


def _h264_mode(fmtp: Mapping[str, str]) -> int:
    # RFC 6184 §8.1: "When the value of packetization-mode is equal to 0 or
    # packetization-mode is not present, the single NAL mode ... MUST be used."
    return 1 if fmtp.get("packetization-mode", "0").strip() == "1" else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoCodecSpec:
    """One video codec row: what SDP says, and how to build its coder and payload format."""

    name: str  # rtpmap encoding name
    preferred_payload_type: int
    encoder_name: str
    decoder_name: str
    fmtp: Mapping[str, str] = field(default_factory=dict)
    rtcp_fb: tuple[str, ...] = RTCP_FEEDBACK
    clock_rate: int = VIDEO_CLOCK_RATE
    alternatives: tuple[Mapping[str, str], ...] = ()
    "More fmtp variants offered after ``fmtp``, each on its own dynamic payload type."

    def available(self) -> bool:
        """Can this PyAV build both encode and decode the codec?"""
        return can_encode(self.encoder_name) and can_decode(self.decoder_name)

    def matches(self, encoding: str, clock_rate: int) -> bool:
        return self.name.lower() == encoding.lower() and self.clock_rate == clock_rate

    def capability(self, payload_type: int | None = None) -> CodecCapability:
        """The row as SDP negotiates it (kind ``video``)."""
        return CodecCapability(
            encoding=self.name, clock_rate=self.clock_rate,
            payload_type=self.preferred_payload_type if payload_type is None else payload_type,
            fmtp=dict(self.fmtp), kind="video", rtcp_fb=self.rtcp_fb)

    def capabilities(self, payload_type: int | None = None) -> list[CodecCapability]:
        """The row and its ``alternatives`` as SDP offers them (the alternatives take the
        next free dynamic payload types)."""
        return [self.capability(payload_type)] + [
            CodecCapability(encoding=self.name, clock_rate=self.clock_rate, fmtp=dict(fmtp),
                            kind="video", rtcp_fb=self.rtcp_fb)
            for fmtp in self.alternatives]

    def payload_format(self, *, mtu: int = DEFAULT_MTU,
                       remote_fmtp: Mapping[str, str] | None = None) -> PayloadFormat:
        """The RTP payload format to send with, shaped by the peer's fmtp."""
        max_payload = max_payload_for_mtu(mtu)
        if self.name.upper() == "H264":
            mode = _h264_mode(self.fmtp if remote_fmtp is None else remote_fmtp)
            return H264PayloadFormat(max_payload=max_payload, packetization_mode=mode)
        if self.name.upper() == "VP8":
            return Vp8PayloadFormat(max_payload=max_payload)
        if self.name.upper() == "VP9":
            return Vp9PayloadFormat(max_payload=max_payload)
        raise ValueError(f"no RTP payload format for {self.name}")

    def encoder(self, settings: VideoEncoderSettings) -> VideoEncoder:
        """A real-time encoder for ``settings`` (the peer's fmtp shapes H.264 slices)."""
        options: dict[str, str]
        if self.name.upper() == "H264":
            options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline"}
            fmtp = self.fmtp if settings.remote_fmtp is None else settings.remote_fmtp
            if _h264_mode(fmtp) == 0:
                options["x264-params"] = f"slice-max-size={max_payload_for_mtu(settings.mtu)}"
            return VideoEncoder(self.encoder_name, settings, options, _strip_sei)
        if self.name.upper() == "VP9":  # libvpx-vp9 takes cpu-used -8..8
            options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0",
                       "row-mt": "0"}
        else:
            options = {"deadline": "realtime", "cpu-used": "16", "lag-in-frames": "0",
                       "error-resilient": "1"}
        return VideoEncoder(self.encoder_name, settings, options)

    def decoder(self) -> VideoDecoder:
        return VideoDecoder(self.decoder_name)


H264 = VideoCodecSpec(
    name="H264", preferred_payload_type=125, encoder_name="libx264", decoder_name="h264",
    fmtp=MappingProxyType({"profile-level-id": "42e01f", "packetization-mode": "1",
                           "level-asymmetry-allowed": "1"}),
    # Single NAL unit mode too: peers such as baresip 1.0 (avcodec) accept only mode 0.
    alternatives=(MappingProxyType({"profile-level-id": "42e01f", "packetization-mode": "0",
                                    "level-asymmetry-allowed": "1"}),))
VP8 = VideoCodecSpec(name="VP8", preferred_payload_type=120, encoder_name="libvpx",
                     decoder_name="vp8")
# RFC 9628 (non-scalable: one spatial and temporal layer); offered when enabled.
VP9 = VideoCodecSpec(name="VP9", preferred_payload_type=122, encoder_name="libvpx-vp9",
                     decoder_name="vp9")


class VideoCodecRegistry:
    """An ordered set of video codec rows (order is offer preference); rows this
    PyAV build cannot run are left out."""

    def __init__(self, specs: Iterable[VideoCodecSpec]) -> None:
        self._specs = [spec for spec in specs if spec.available()]

    def __iter__(self) -> Iterator[VideoCodecSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def find(self, encoding: str, clock_rate: int = VIDEO_CLOCK_RATE) -> VideoCodecSpec | None:
        for spec in self._specs:
            if spec.matches(encoding, clock_rate):
                return spec
        return None

    def capabilities(self) -> list[CodecCapability]:
        return [cap for spec in self._specs for cap in spec.capabilities()]


DEFAULT_VIDEO_CODECS = VideoCodecRegistry([H264, VP8])
"What a phone offers unless told otherwise (``VideoSettings.codecs``)."
ALL_VIDEO_CODECS = VideoCodecRegistry([H264, VP8, VP9])
"Every row that runs here: the default ones and VP9 (enabled on request)."
