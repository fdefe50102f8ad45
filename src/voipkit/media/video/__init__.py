"""Pure video media: RTP payload formats, frame reassembly, loss repair, codecs, frames.

Knows: RFC 6184 (H.264 over RTP, packetization modes 0 and 1), RFC 7741 (VP8 over RTP),
RFC 4585 generic NACK and PLI and RFC 5104 FIR (as sequence numbers and key frame
requests; the RTCP bytes are ``voipkit.media.rtcp``), PyAV video encoders and decoders,
I420 frames, a test pattern and PSNR.
Must not know: SIP, sockets, asyncio, threads, or the clock (callers pass ``now``).
"""

from voipkit.media.video.assembler import AssembledFrame, FrameAssembler
from voipkit.media.video.codecs import (
    ALL_VIDEO_CODECS,
    DEFAULT_VIDEO_CODECS,
    H264,
    VIDEO_CLOCK_RATE,
    VP8,
    VP9,
    EncodedFrame,
    VideoCodecRegistry,
    VideoCodecSpec,
    VideoDecoder,
    VideoEncoder,
    VideoEncoderSettings,
)
from voipkit.media.video.files import VideoFileSink
from voipkit.media.video.frames import (
    PatternSource,
    VideoFrame,
    i420_size,
    mirror,
    pattern_frame,
    pattern_index,
    psnr,
    rotate,
)
from voipkit.media.video.h264 import FuA, H264PayloadFormat, StapA, join_annex_b, split_annex_b
from voipkit.media.video.nack import NackGenerator, RetransmissionBuffer
from voipkit.media.video.payload import (
    DEFAULT_MTU,
    MAX_MTU,
    MIN_MTU,
    MalformedPayload,
    PayloadFormat,
    max_payload_for_mtu,
)
from voipkit.media.video.stream import VideoCounters, VideoStream, VideoStreamConfig
from voipkit.media.video.vp8 import Vp8PayloadDescriptor, Vp8PayloadFormat
from voipkit.media.video.vp9 import Vp9PayloadDescriptor, Vp9PayloadFormat

__all__ = [
    "ALL_VIDEO_CODECS",
    "DEFAULT_MTU",
    "DEFAULT_VIDEO_CODECS",
    "H264",
    "MAX_MTU",
    "MIN_MTU",
    "VIDEO_CLOCK_RATE",
    "VP8",
    "VP9",
    "AssembledFrame",
    "EncodedFrame",
    "FrameAssembler",
    "FuA",
    "H264PayloadFormat",
    "MalformedPayload",
    "NackGenerator",
    "PatternSource",
    "PayloadFormat",
    "RetransmissionBuffer",
    "StapA",
    "VideoCodecRegistry",
    "VideoCodecSpec",
    "VideoCounters",
    "VideoDecoder",
    "VideoEncoder",
    "VideoEncoderSettings",
    "VideoFileSink",
    "VideoFrame",
    "VideoStream",
    "VideoStreamConfig",
    "Vp8PayloadDescriptor",
    "Vp8PayloadFormat",
    "Vp9PayloadDescriptor",
    "Vp9PayloadFormat",
    "i420_size",
    "join_annex_b",
    "max_payload_for_mtu",
    "mirror",
    "pattern_frame",
    "pattern_index",
    "psnr",
    "rotate",
    "split_annex_b",
]
