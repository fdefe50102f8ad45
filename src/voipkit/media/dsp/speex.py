"""libspeexdsp through a small cffi ABI-mode binding: echo canceller and preprocessor.

Knows: the C API of ``speex/speex_echo.h`` and ``speex/speex_preprocess.h``
(speexdsp 1.2), declared here with ``ffi.cdef`` and loaded with
``ffi.dlopen`` — no compiler and no headers at install time, only the shared
library (Debian package ``libspeexdsp1``). Frames are mono int16 numpy arrays of
exactly ``frame_size`` samples; every call copies into a buffer the object owns,
so callers' arrays are never written to.

Must not know: RTP, codecs, sockets, threads or the clock. Processing is
synchronous: one call per frame.

Native state is owned by the Python objects. ``close()`` frees it at once and
is idempotent; the context-manager form closes on exit. As a safety net the
state is also registered with ``ffi.gc``, so an object dropped without
``close()`` does not leak, but code should not rely on that.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import cffi  # type: ignore[import-untyped]
import numpy as np

from voipkit.media.frames import Pcm

__all__ = [
    "DEBIAN_PACKAGE",
    "EchoCanceller",
    "Preprocessor",
    "SpeexUnavailableError",
    "load_speexdsp",
]

DEBIAN_PACKAGE = "libspeexdsp1"
LIBRARY_NAMES = ("libspeexdsp.so.1", "speexdsp")

_CDEF = """
typedef struct SpeexEchoState_ SpeexEchoState;
typedef struct SpeexPreprocessState_ SpeexPreprocessState;

SpeexEchoState *speex_echo_state_init(int frame_size, int filter_length);
void speex_echo_state_destroy(SpeexEchoState *st);
void speex_echo_cancellation(SpeexEchoState *st, const int16_t *rec,
                             const int16_t *play, int16_t *out);
void speex_echo_state_reset(SpeexEchoState *st);
int speex_echo_ctl(SpeexEchoState *st, int request, void *ptr);

SpeexPreprocessState *speex_preprocess_state_init(int frame_size, int sampling_rate);
void speex_preprocess_state_destroy(SpeexPreprocessState *st);
int speex_preprocess_run(SpeexPreprocessState *st, int16_t *x);
int speex_preprocess_ctl(SpeexPreprocessState *st, int request, void *ptr);
"""

# speex_echo.h request codes
_ECHO_SET_SAMPLING_RATE = 24
# speex_preprocess.h request codes
_PP_SET_DENOISE = 0
_PP_SET_AGC = 2
_PP_SET_VAD = 4
_PP_SET_AGC_LEVEL = 6  # float
_PP_SET_DEREVERB = 8
_PP_SET_NOISE_SUPPRESS = 18  # int, dB, negative
_PP_SET_ECHO_SUPPRESS = 20  # int, dB, negative
_PP_SET_ECHO_SUPPRESS_ACTIVE = 22  # int, dB, negative
_PP_SET_ECHO_STATE = 24  # SpeexEchoState* or NULL
_PP_SET_AGC_INCREMENT = 26  # int, dB/s
_PP_SET_AGC_DECREMENT = 28  # int, dB/s, negative
_PP_SET_AGC_MAX_GAIN = 30  # int, dB
_PP_GET_AGC_GAIN = 35  # int, percent
_PP_GET_PROB = 45  # int, percent

_ffi: Any = cffi.FFI()
_ffi.cdef(_CDEF)
_loaded: Any = None


class SpeexUnavailableError(RuntimeError):
    """libspeexdsp could not be loaded; the message names the package to install."""


def load_speexdsp(names: tuple[str, ...] = LIBRARY_NAMES) -> Any:
    """Open libspeexdsp (the first of ``names`` that loads) and return the cffi library.

    The default names are cached after the first success.

    Raises:
        SpeexUnavailableError: none of ``names`` could be opened.
    """
    global _loaded
    default = names == LIBRARY_NAMES
    if default and _loaded is not None:
        return _loaded
    errors: list[str] = []
    for name in names:
        try:
            lib = _ffi.dlopen(name)
        except OSError as exc:
            errors.append(f"{name}: {exc}")
            continue
        if default:
            _loaded = lib
        return lib
    raise SpeexUnavailableError(
        "libspeexdsp is not installed (needed for AEC, noise suppression and AGC); "
        f"install the Debian package {DEBIAN_PACKAGE} (apt-get install {DEBIAN_PACKAGE}). "
        "Tried " + "; ".join(errors)
    )


def _int_ptr(value: int) -> Any:
    return _ffi.new("int *", value)


def _check_frame(frame: Pcm, frame_size: int, what: str) -> Pcm:
    if frame.ndim != 1 or len(frame) != frame_size:
        raise ValueError(f"{what} must be {frame_size} mono samples, got shape {frame.shape}")
    contiguous: Pcm = np.ascontiguousarray(frame, dtype=np.int16)
    return contiguous


class EchoCanceller:
    """Acoustic echo canceller (speex MDF adaptive filter).

    ``process(mic, far_end)`` removes from the microphone frame the echo of the
    far-end frame that was played at the same time. ``filter_length`` is the echo
    tail in samples (100–500 ms of samples is typical; 1024 at 8 kHz is 128 ms).

    Args:
        frame_size: samples per frame (10–20 ms worth).
        filter_length: adaptive filter length in samples (the longest echo delay).
        sample_rate: samples per second.

    Raises:
        SpeexUnavailableError: libspeexdsp is not installed.
        ValueError: a size is not positive.
    """

    def __init__(self, frame_size: int, filter_length: int, sample_rate: int) -> None:
        if frame_size <= 0 or filter_length <= 0 or sample_rate <= 0:
            raise ValueError(
                f"frame_size, filter_length and sample_rate must be positive, got "
                f"{frame_size}, {filter_length}, {sample_rate}"
            )
        self._lib = load_speexdsp()
        raw = self._lib.speex_echo_state_init(frame_size, filter_length)
        if raw == _ffi.NULL:
            raise MemoryError("speex_echo_state_init returned NULL")
        self._state: Any = _ffi.gc(raw, self._lib.speex_echo_state_destroy)
        self._lib.speex_echo_ctl(self._state, _ECHO_SET_SAMPLING_RATE, _int_ptr(sample_rate))
        self.frame_size = frame_size
        self.filter_length = filter_length
        self.sample_rate = sample_rate
        self._out = np.zeros(frame_size, dtype=np.int16)
        self._out_c = _ffi.from_buffer("int16_t[]", self._out, require_writable=True)
        self._linked: list[Preprocessor] = []

    @property
    def closed(self) -> bool:
        """True once ``close()`` has freed the native state."""
        return self._state is None

    @property
    def native_state(self) -> Any:
        """The ``SpeexEchoState*`` (for linking a ``Preprocessor``).

        Raises:
            ValueError: the canceller is closed.
        """
        if self._state is None:
            raise ValueError("echo canceller is closed")
        return self._state

    def process(self, mic_frame: Pcm, far_end_frame: Pcm) -> Pcm:
        """The microphone frame with the far end's echo removed (a new array).

        Raises:
            ValueError: a frame has the wrong length, or the canceller is closed.
        """
        state = self.native_state
        mic = _check_frame(mic_frame, self.frame_size, "mic frame")
        far = _check_frame(far_end_frame, self.frame_size, "far-end frame")
        self._lib.speex_echo_cancellation(
            state,
            _ffi.from_buffer("int16_t[]", mic),
            _ffi.from_buffer("int16_t[]", far),
            self._out_c,
        )
        return self._out.copy()

    def reset(self) -> None:
        """Forget the adapted echo path (for example after a device change)."""
        self._lib.speex_echo_state_reset(self.native_state)

    def close(self) -> None:
        """Free the native state; unlinks any preprocessor first. Safe to call twice."""
        if self._state is None:
            return
        for pre in list(self._linked):
            pre.link_echo(None)
        state, self._state = self._state, None
        _ffi.release(state)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Preprocessor:
    """Speex preprocessor: noise suppression (ANS), AGC, optional VAD, residual echo.

    Dereverberation is always off. Settings are properties; each assignment is
    passed to the native state at once, so they may change between frames.

    The output lags the input by exactly one frame (speex analyses overlapping
    windows): with every feature off, output frame ``k`` is input frame ``k-1``.
    Residual echo suppression (``link_echo``) works through the denoiser's
    gains, so it needs ``denoise`` on; ``noise_suppress_db=0`` keeps the
    background noise while still suppressing echo.

    Args:
        frame_size: samples per frame; must equal the echo canceller's when linked.
        sample_rate: samples per second.
        denoise: noise suppression on (the manual's enableANS).
        noise_suppress_db: largest noise attenuation in dB (negative; speex default -15).
        agc: automatic gain control on (the manual's enableAGC).
        agc_level: AGC loudness target in speex units (1–32768; speex default 8000).
            Speex measures a spectrally weighted loudness, not plain RMS: for a
            speech-band signal at 8 kHz, 8000 lands near -20 dBFS, and each
            doubling adds 6 dB.
        agc_max_gain_db: largest gain the AGC may apply, in dB.
        vad: run speex's own speech-probability VAD (``speech`` after each frame).

    Raises:
        SpeexUnavailableError: libspeexdsp is not installed.
        ValueError: a size is not positive.
    """

    def __init__(
        self,
        frame_size: int,
        sample_rate: int,
        *,
        denoise: bool = True,
        noise_suppress_db: int = -15,
        agc: bool = False,
        agc_level: int = 8000,
        agc_max_gain_db: int = 30,
        vad: bool = False,
    ) -> None:
        if frame_size <= 0 or sample_rate <= 0:
            raise ValueError(
                f"frame_size and sample_rate must be positive, got {frame_size}, {sample_rate}"
            )
        self._lib = load_speexdsp()
        raw = self._lib.speex_preprocess_state_init(frame_size, sample_rate)
        if raw == _ffi.NULL:
            raise MemoryError("speex_preprocess_state_init returned NULL")
        self._state: Any = _ffi.gc(raw, self._lib.speex_preprocess_state_destroy)
        self.frame_size = frame_size
        self.sample_rate = sample_rate
        self._buf = np.zeros(frame_size, dtype=np.int16)
        self._buf_c = _ffi.from_buffer("int16_t[]", self._buf, require_writable=True)
        self._echo: EchoCanceller | None = None
        self.speech = False
        self._vad = False  # the native default; setting it prints a warning in speexdsp 1.2
        self._ctl_int(_PP_SET_DEREVERB, 0)
        self.denoise = denoise
        self.noise_suppress_db = noise_suppress_db
        self.agc = agc
        self.agc_level = agc_level
        self.agc_max_gain_db = agc_max_gain_db
        self.vad = vad

    def _native(self) -> Any:
        if self._state is None:
            raise ValueError("preprocessor is closed")
        return self._state

    def _ctl_int(self, request: int, value: int) -> int:
        ptr = _int_ptr(value)
        if self._lib.speex_preprocess_ctl(self._native(), request, ptr) != 0:
            raise ValueError(f"speex_preprocess_ctl refused request {request} = {value}")
        return int(ptr[0])

    def _get_int(self, request: int) -> int:
        ptr = _int_ptr(0)
        self._lib.speex_preprocess_ctl(self._native(), request, ptr)
        return int(ptr[0])

    @property
    def closed(self) -> bool:
        """True once ``close()`` has freed the native state."""
        return self._state is None

    @property
    def denoise(self) -> bool:
        """Noise suppression on or off."""
        return self._denoise

    @denoise.setter
    def denoise(self, on: bool) -> None:
        self._ctl_int(_PP_SET_DENOISE, int(on))
        self._denoise = on

    @property
    def noise_suppress_db(self) -> int:
        """Largest noise attenuation in dB (negative)."""
        return self._noise_suppress_db

    @noise_suppress_db.setter
    def noise_suppress_db(self, db: int) -> None:
        if db > 0:
            raise ValueError(f"noise_suppress_db is an attenuation (<= 0), got {db}")
        self._ctl_int(_PP_SET_NOISE_SUPPRESS, db)
        self._noise_suppress_db = db

    @property
    def agc(self) -> bool:
        """Automatic gain control on or off."""
        return self._agc

    @agc.setter
    def agc(self, on: bool) -> None:
        self._ctl_int(_PP_SET_AGC, int(on))
        self._agc = on

    @property
    def agc_level(self) -> int:
        """AGC loudness target in speex units (see the class docstring)."""
        return self._agc_level

    @agc_level.setter
    def agc_level(self, level: int) -> None:
        if not 1 <= level <= 32768:
            raise ValueError(f"agc_level must be 1..32768, got {level}")
        ptr = _ffi.new("float *", float(level))
        self._lib.speex_preprocess_ctl(self._native(), _PP_SET_AGC_LEVEL, ptr)
        self._agc_level = level

    @property
    def agc_max_gain_db(self) -> int:
        """Largest AGC gain in dB."""
        return self._agc_max_gain_db

    @agc_max_gain_db.setter
    def agc_max_gain_db(self, db: int) -> None:
        self._ctl_int(_PP_SET_AGC_MAX_GAIN, db)
        self._agc_max_gain_db = db

    def set_agc_speed(self, *, increment_db_per_s: int, decrement_db_per_s: int) -> None:
        """How fast the AGC may raise and lower its gain (speex defaults 12 and 40 dB/s)."""
        self._ctl_int(_PP_SET_AGC_INCREMENT, increment_db_per_s)
        self._ctl_int(_PP_SET_AGC_DECREMENT, -abs(decrement_db_per_s))

    @property
    def agc_gain(self) -> float:
        """The gain the AGC currently applies, as a linear factor."""
        return self._get_int(_PP_GET_AGC_GAIN) / 100.0

    @property
    def vad(self) -> bool:
        """Speex's own VAD on or off (its result is ``speech``)."""
        return self._vad

    @vad.setter
    def vad(self, on: bool) -> None:
        if on != self._vad:
            self._ctl_int(_PP_SET_VAD, int(on))
        self._vad = on

    @property
    def speech_probability(self) -> float:
        """Speech probability of the last frame, 0.0–1.0."""
        return self._get_int(_PP_GET_PROB) / 100.0

    def link_echo(
        self, echo: EchoCanceller | None, *, suppress_db: int = -40, suppress_active_db: int = -15
    ) -> None:
        """Use ``echo``'s state for residual echo suppression (``None`` unlinks).

        Args:
            echo: the canceller run on the same frames just before this preprocessor.
            suppress_db: largest residual-echo attenuation while only the far end talks.
            suppress_active_db: the same while the near end talks too.
        """
        native = self._native()
        if self._echo is not None:
            self._echo._linked.remove(self)
            self._echo = None
        if echo is None:
            self._lib.speex_preprocess_ctl(native, _PP_SET_ECHO_STATE, _ffi.NULL)
            return
        if echo.frame_size != self.frame_size:
            raise ValueError(
                f"echo canceller frame size {echo.frame_size} != preprocessor {self.frame_size}"
            )
        self._lib.speex_preprocess_ctl(native, _PP_SET_ECHO_STATE, echo.native_state)
        self._ctl_int(_PP_SET_ECHO_SUPPRESS, suppress_db)
        self._ctl_int(_PP_SET_ECHO_SUPPRESS_ACTIVE, suppress_active_db)
        self._echo = echo
        echo._linked.append(self)

    @property
    def echo(self) -> EchoCanceller | None:
        """The linked echo canceller, if any."""
        return self._echo

    def process(self, frame: Pcm) -> Pcm:
        """The processed frame (a new array); sets ``speech`` when the VAD is on.

        Raises:
            ValueError: the frame has the wrong length, or the preprocessor is closed.
        """
        native = self._native()
        self._buf[:] = _check_frame(frame, self.frame_size, "frame")
        result = self._lib.speex_preprocess_run(native, self._buf_c)
        self.speech = bool(result) if self._vad else False
        return self._buf.copy()

    def close(self) -> None:
        """Unlink the echo canceller and free the native state. Safe to call twice."""
        if self._state is None:
            return
        if self._echo is not None:
            self.link_echo(None)
        state, self._state = self._state, None
        _ffi.release(state)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
