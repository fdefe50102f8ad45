"""The capture-side processing chain behind the manual's five audio switches.

Knows: the order the stages run in for each captured frame — echo
cancellation (enableAEC) against the frame played at the same time, then the
speex preprocessor (enableANS noise suppression, enableAGC gain control, and,
when AEC is on, residual echo suppression), then VAD with hangover
(enableVAD) deciding audio / comfort noise (enableCNG, RFC 3389) / nothing.
Native stages are built when a switch is first turned on and freed when it
is turned off or the chain is closed. While any of AEC/ANS/AGC is on, the
output lags the input by one frame (the speex preprocessor's analysis window).

Must not know: RTP, codecs, devices, sockets, threads or the clock. The stream
calls ``process_capture`` once per frame and acts on the decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import numpy as np

from voipkit.media.dsp.speex import EchoCanceller, Preprocessor
from voipkit.media.dsp.vad import (
    SEND_AUDIO,
    SendDecision,
    SilenceSuppressor,
    VoiceActivityDetector,
)
from voipkit.media.frames import Pcm

__all__ = ["ProcessingChain"]


@dataclass(slots=True, kw_only=True)
class ProcessingChain:
    """Per-frame capture processing; the switches may change between frames.

    Attributes:
        sample_rate: samples per second of the frames.
        frame_samples: samples per frame (VAD needs a multiple of 10 ms).
        vad: enableVAD — suppress silence (with a hangover).
        cng: enableCNG — send RFC 3389 comfort noise in silence (needs ``vad``;
            without it silence sends nothing).
        aec: enableAEC — cancel the echo of ``far_end`` from ``mic``, then
            suppress the residual echo in the preprocessor.
        ans: enableANS — speex noise suppression.
        agc: enableAGC — speex automatic gain control.
        vad_mode: WebRTC VAD aggressiveness 0–3.
        hangover_frames: audio frames kept after speech ends.
        echo_tail: longest echo delay the canceller models, in seconds.
        noise_suppress_db: largest noise attenuation (negative dB).
        agc_level: AGC loudness target in speex units (see ``Preprocessor``).
    """

    sample_rate: int = 8000
    frame_samples: int = 160
    vad: bool = False
    cng: bool = False
    aec: bool = False
    ans: bool = False
    agc: bool = False
    vad_mode: int = 2
    hangover_frames: int = 10
    echo_tail: float = 0.128
    noise_suppress_db: int = -15
    agc_level: int = 8000
    _echo: EchoCanceller | None = field(default=None, init=False, repr=False)
    _pre: Preprocessor | None = field(default=None, init=False, repr=False)
    _suppressor: SilenceSuppressor | None = field(default=None, init=False, repr=False)
    _silence: Pcm = field(
        default_factory=lambda: np.zeros(0, dtype=np.int16), init=False, repr=False
    )

    def process_capture(self, mic: Pcm, far_end: Pcm | None = None) -> tuple[Pcm, SendDecision]:
        """Process one captured frame.

        Args:
            mic: the microphone frame (``frame_samples`` int16 samples).
            far_end: the frame played out at the same time (``None`` when
                nothing was played; used only by AEC).

        Returns:
            The processed frame and what to send for it.

        Raises:
            ValueError: a frame of the wrong length, or a rate the VAD cannot take.
        """
        if len(mic) != self.frame_samples:
            raise ValueError(f"mic frame must be {self.frame_samples} samples, got {len(mic)}")
        frame = mic
        echo = self._sync_echo()
        if echo is not None:
            if far_end is None:
                if len(self._silence) != self.frame_samples:
                    self._silence = np.zeros(self.frame_samples, dtype=np.int16)
                far_end = self._silence
            frame = echo.process(frame, far_end)
        pre = self._sync_preprocessor()
        if pre is not None:
            frame = pre.process(frame)
        suppressor = self._sync_suppressor()
        if suppressor is None:
            return frame, SEND_AUDIO
        return frame, suppressor.process(frame)

    def _sync_echo(self) -> EchoCanceller | None:
        if self.aec and self._echo is None:
            self._echo = EchoCanceller(
                self.frame_samples, round(self.echo_tail * self.sample_rate), self.sample_rate
            )
        elif not self.aec and self._echo is not None:
            self._echo.close()  # also unlinks the preprocessor
            self._echo = None
        return self._echo

    def _sync_preprocessor(self) -> Preprocessor | None:
        wanted = self.ans or self.agc or self.aec
        if not wanted:
            if self._pre is not None:
                self._pre.close()
                self._pre = None
            return None
        # residual echo suppression runs in the denoiser; without ANS it gets a 0 dB
        # noise floor, so only echo is attenuated
        denoise = self.ans or self.aec
        noise_suppress_db = self.noise_suppress_db if self.ans else 0
        pre = self._pre
        if pre is None:
            pre = self._pre = Preprocessor(
                self.frame_samples,
                self.sample_rate,
                denoise=denoise,
                noise_suppress_db=noise_suppress_db,
                agc=self.agc,
                agc_level=self.agc_level,
            )
        if pre.denoise != denoise:
            pre.denoise = denoise
        if pre.noise_suppress_db != noise_suppress_db:
            pre.noise_suppress_db = noise_suppress_db
        if pre.agc != self.agc:
            pre.agc = self.agc
        if pre.agc_level != self.agc_level:
            pre.agc_level = self.agc_level
        if pre.echo is not self._echo:
            pre.link_echo(self._echo)
        return pre

    def _sync_suppressor(self) -> SilenceSuppressor | None:
        if not self.vad:
            self._suppressor = None
            return None
        sup = self._suppressor
        if sup is None or sup.detector is None or sup.detector.mode != self.vad_mode:
            detector = VoiceActivityDetector.for_frame(
                self.vad_mode, self.sample_rate, self.frame_samples
            )
            sup = self._suppressor = SilenceSuppressor(
                detector, cng=self.cng, hangover_frames=self.hangover_frames
            )
        sup.cng = self.cng
        sup.hangover_frames = self.hangover_frames
        return sup

    def close(self) -> None:
        """Free the native stages. Safe to call twice; a later frame rebuilds them."""
        if self._echo is not None:
            self._echo.close()
            self._echo = None
        if self._pre is not None:
            self._pre.close()
            self._pre = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
