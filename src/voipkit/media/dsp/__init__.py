"""Capture-side audio processing: echo cancellation, noise suppression, gain control, VAD.

Knows: the manual's enableVAD / enableCNG / enableAEC / enableANS / enableAGC
switches, implemented over the WebRTC VAD (``webrtcvad``) and libspeexdsp
(Debian ``libspeexdsp1``, through this package's own cffi ABI binding in
``speex``). Must not know: RTP, SIP, sockets, threads or the clock; everything
here is called once per frame by the media stream.
"""

from voipkit.media.dsp.chain import ProcessingChain
from voipkit.media.dsp.speex import (
    DEBIAN_PACKAGE,
    EchoCanceller,
    Preprocessor,
    SpeexUnavailableError,
    load_speexdsp,
)
from voipkit.media.dsp.vad import (
    SEND_AUDIO,
    SendAction,
    SendDecision,
    SilenceSuppressor,
    VoiceActivityDetector,
)

__all__ = [
    "DEBIAN_PACKAGE",
    "SEND_AUDIO",
    "EchoCanceller",
    "Preprocessor",
    "ProcessingChain",
    "SendAction",
    "SendDecision",
    "SilenceSuppressor",
    "SpeexUnavailableError",
    "VoiceActivityDetector",
    "load_speexdsp",
]
