"""Voice activity detection and silence suppression (the manual's enableVAD / enableCNG).

Knows: the WebRTC VAD (``webrtcvad``: modes 0–3, 8/16/32/48 kHz, 10/20/30 ms
frames of int16 PCM); the hangover rule (keep sending audio for a few frames
after speech ends, so word endings are not clipped); RFC 3389 comfort noise
levels (``voipkit.media.codecs.cn.level_of``) sent at the start of silence and
again when the noise level moves or a refresh interval passes (RFC 3389 §4:
CN packets carry updates when the background noise changes); RFC 3551 §4.1's
marker bit on the first packet of a talkspurt, reported as ``talkspurt_start``.

Must not know: RTP packets, payload types, sockets or the clock. Decisions are
made per frame; the RTP side turns them into packets (or none).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

import numpy as np
import webrtcvad  # type: ignore[import-untyped]

from voipkit.media.codecs.cn import level_of
from voipkit.media.frames import Pcm

__all__ = [
    "SEND_AUDIO",
    "VAD_FRAME_DURATIONS",
    "VAD_SAMPLE_RATES",
    "SendAction",
    "SendDecision",
    "SilenceSuppressor",
    "VoiceActivityDetector",
]

VAD_SAMPLE_RATES = (8000, 16000, 32000, 48000)
VAD_FRAME_DURATIONS = (0.01, 0.02, 0.03)


class VoiceActivityDetector:
    """Is there speech in this frame? (WebRTC VAD).

    Args:
        mode: aggressiveness 0 (least, most frames called speech) to 3 (most).
        sample_rate: 8000, 16000, 32000 or 48000.
        frame_duration: 0.01, 0.02 or 0.03 seconds.

    ``is_speech`` also accepts a frame that is a whole number of such frames
    (a 60 ms packet at 20 ms): it is speech if any part is.

    Raises:
        ValueError: a parameter outside the lists above.
    """

    def __init__(
        self, mode: int = 2, sample_rate: int = 8000, frame_duration: float = 0.02
    ) -> None:
        if mode not in (0, 1, 2, 3):
            raise ValueError(f"VAD mode must be 0..3, got {mode}")
        if sample_rate not in VAD_SAMPLE_RATES:
            raise ValueError(
                f"VAD sample rate must be one of {VAD_SAMPLE_RATES}, got {sample_rate}"
            )
        if not any(abs(frame_duration - d) < 1e-9 for d in VAD_FRAME_DURATIONS):
            raise ValueError(
                f"VAD frame duration must be one of {VAD_FRAME_DURATIONS} s, got {frame_duration}"
            )
        self.mode = mode
        self.sample_rate = sample_rate
        self.frame_samples = round(sample_rate * frame_duration)
        self._vad = webrtcvad.Vad(mode)

    @classmethod
    def for_frame(cls, mode: int, sample_rate: int, frame_samples: int) -> VoiceActivityDetector:
        """A detector whose frame divides ``frame_samples`` (the longest of 30/20/10 ms).

        Raises:
            ValueError: ``frame_samples`` is not a multiple of 10 ms at ``sample_rate``.
        """
        for duration in (0.03, 0.02, 0.01):
            size = round(sample_rate * duration)
            if frame_samples > 0 and frame_samples % size == 0:
                return cls(mode, sample_rate, duration)
        raise ValueError(f"{frame_samples} samples is not a multiple of 10 ms at {sample_rate} Hz")

    def is_speech(self, frame: Pcm) -> bool:
        """True when the VAD hears speech in ``frame`` (in any of its parts).

        Raises:
            ValueError: the frame is not a whole number of detector frames.
        """
        n = len(frame)
        if n == 0 or n % self.frame_samples:
            raise ValueError(f"VAD frames are {self.frame_samples} samples (or multiples), got {n}")
        data = np.ascontiguousarray(frame, dtype="<i2").tobytes()
        step = 2 * self.frame_samples
        return any(
            bool(self._vad.is_speech(data[i : i + step], self.sample_rate))
            for i in range(0, len(data), step)
        )


class SendAction(Enum):
    """What the sender does with one captured frame."""

    AUDIO = auto()  # encode and send it
    COMFORT_NOISE = auto()  # send an RFC 3389 CN packet instead
    NOTHING = auto()  # send nothing (discontinuous transmission)


@dataclass(frozen=True, slots=True)
class SendDecision:
    """The suppressor's verdict on one frame."""

    action: SendAction
    "Send the audio, a comfort-noise packet, or nothing."

    speech: bool | None
    "The VAD's raw answer for this frame (before hangover); None when no VAD ran."

    talkspurt_start: bool = False
    "First audio frame after silence: RFC 3551 §4.1 sets the RTP marker bit on it."

    noise_level: int | None = None
    "For COMFORT_NOISE: the RFC 3389 level (-dBov, 0–127) to put in the CN payload."


SEND_AUDIO = SendDecision(SendAction.AUDIO, speech=None)
"""The decision when VAD is off: every frame is sent as audio."""


class SilenceSuppressor:
    """VAD + hangover, and with CNG comfort-noise updates in silence.

    Per frame: speech is sent as audio. After the last speech frame,
    ``hangover_frames`` more frames are still sent as audio. Then silence
    begins: with ``cng`` the first silent frame becomes a CN packet, later ones
    send nothing except when the noise level has moved ``cn_level_step`` dB
    from the last CN sent or ``cn_refresh_frames`` frames have passed since it;
    without ``cng`` silence sends nothing at all. A stream that starts silent is
    in silence from its first frame.

    Args:
        detector: the VAD that judges each frame (``process``); ``decide``
            takes the answer directly instead.
        cng: send comfort noise in silence (the manual's enableCNG).
        hangover_frames: audio frames kept after speech ends.
        cn_refresh_frames: longest run of silent frames between CN packets.
        cn_level_step: level change (dB) that triggers an early CN update.
    """

    def __init__(
        self,
        detector: VoiceActivityDetector | None = None,
        *,
        cng: bool = True,
        hangover_frames: int = 10,
        cn_refresh_frames: int = 50,
        cn_level_step: int = 3,
    ) -> None:
        if hangover_frames < 0 or cn_refresh_frames < 1 or cn_level_step < 1:
            raise ValueError(
                "hangover_frames must be >= 0, cn_refresh_frames and cn_level_step >= 1"
            )
        self.detector = detector
        self.cng = cng
        self.hangover_frames = hangover_frames
        self.cn_refresh_frames = cn_refresh_frames
        self.cn_level_step = cn_level_step
        self._silent_run = hangover_frames  # frames since speech; start in silence
        self._sending_audio = False
        self._last_cn_level: int | None = None
        self._since_cn = 0

    @property
    def in_silence(self) -> bool:
        """True while frames are suppressed (after the hangover ran out)."""
        return not self._sending_audio

    def process(self, frame: Pcm) -> SendDecision:
        """Run the detector on ``frame`` and decide.

        Raises:
            ValueError: there is no detector, or the frame does not fit it.
        """
        if self.detector is None:
            raise ValueError("SilenceSuppressor.process needs a detector; use decide()")
        return self.decide(self.detector.is_speech(frame), frame)

    def decide(self, speech: bool, frame: Pcm) -> SendDecision:
        """Decide for a frame whose VAD answer is ``speech``."""
        if speech:
            self._silent_run = 0
        else:
            self._silent_run += 1
        if speech or self._silent_run <= self.hangover_frames:
            start = not self._sending_audio
            self._sending_audio = True
            self._last_cn_level = None
            return SendDecision(SendAction.AUDIO, speech=speech, talkspurt_start=start)
        self._sending_audio = False
        if not self.cng:
            return SendDecision(SendAction.NOTHING, speech=False)
        level = level_of(frame)
        self._since_cn += 1
        last = self._last_cn_level
        if (
            last is None
            or self._since_cn >= self.cn_refresh_frames
            or abs(level - last) >= self.cn_level_step
        ):
            self._last_cn_level = level
            self._since_cn = 0
            return SendDecision(SendAction.COMFORT_NOISE, speech=False, noise_level=level)
        return SendDecision(SendAction.NOTHING, speech=False)
