"""Capture-side audio processing measurably changes the signal (issue item 10).

Proves, on deterministic numpy signals (fixed RNG seeds):
- AEC: a speech-like far end through a synthetic echo path (delay + FIR +
  attenuation) into the mic is reduced by >= 15 dB once converged, and further
  by the preprocessor's residual echo suppression in the chain;
- ANS: white noise at -30 dBFS between tone bursts is lowered by >= 6 dB while
  the tone's level stays within 3 dB;
- AGC: a quiet (-40 dBFS) and a loud (-6 dBFS) speech-like signal end within
  2 dB of each other, near the level the target stands for, and doubling the
  target raises the output by about 6 dB;
- VAD: speech-like bursts are speech, digital silence and -70 dBFS noise are not;
- silence suppression: hangover, CN-at-start, CN refresh and level updates
  are exact frame by frame; the marker-bit flag marks each talkspurt start;
- the binding's lifecycle: close frees, double close is safe, use after close
  raises, a missing library names the Debian package; and ProcessingChain
  builds/frees stages as its switches flip.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from voipkit.media.codecs.cn import level_of
from voipkit.media.dsp import (
    DEBIAN_PACKAGE,
    SEND_AUDIO,
    EchoCanceller,
    Preprocessor,
    ProcessingChain,
    SendAction,
    SilenceSuppressor,
    SpeexUnavailableError,
    VoiceActivityDetector,
    load_speexdsp,
)
from voipkit.media.frames import Pcm, clip_to_int16, level_dbfs

RATE = 8000
FRAME = 160  # 20 ms


def amplitude(dbfs: float) -> float:
    """RMS of a signal at ``dbfs`` (0 dBFS = full-scale sine, as ``level_dbfs``)."""
    return float(32767.0 * 10.0 ** (dbfs / 20.0) / math.sqrt(2.0))


def vowel(n: int, level: float, seed: int, rate: int = RATE, f0: float = 140.0) -> Pcm:
    """A voiced, formant-shaped harmonic signal at ``level`` dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    x = np.zeros(n)
    for k in range(1, int(3400 / f0)):
        f = k * f0
        weight = (
            math.exp(-(((f - 700) / 300) ** 2))
            + 0.6 * math.exp(-(((f - 1200) / 350) ** 2))
            + 0.25 * math.exp(-(((f - 2500) / 400) ** 2))
        )
        x += weight * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    x += 0.05 * rng.standard_normal(n)
    return clip_to_int16(x / np.sqrt(np.mean(x * x)) * amplitude(level))


def speech_like(n: int, level: float, seed: int) -> Pcm:
    """Low-passed noise with a 4 Hz syllable envelope, at ``level`` dBFS."""
    rng = np.random.default_rng(seed)
    x = np.convolve(rng.standard_normal(n), np.hanning(9) / np.hanning(9).sum(), mode="same")
    t = np.arange(n) / RATE
    x *= 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    return clip_to_int16(x / np.sqrt(np.mean(x * x)) * amplitude(level))


def frames(signal: Pcm, size: int = FRAME) -> list[Pcm]:
    return [signal[i : i + size] for i in range(0, len(signal) - size + 1, size)]


def energy_db(x: Pcm) -> float:
    return 10.0 * math.log10(float(np.mean(np.square(x.astype(np.float64)))) + 1e-12)


# --- AEC ---------------------------------------------------------------------------------


def echo_scene(seconds: int) -> tuple[Pcm, Pcm]:
    """Far-end bursts, and the mic hearing them through a room: 5 ms delay, FIR, -8 dB."""
    n = RATE * seconds
    rng = np.random.default_rng(10)
    t = np.arange(n) / RATE
    talk = (np.sin(2 * np.pi * 0.7 * t) > -0.4).astype(np.float64)  # bursts and pauses
    far = speech_like(n, -12.0, seed=11).astype(np.float64) * talk
    path = np.zeros(120)
    path[40], path[47], path[63], path[101] = 0.4, -0.2, 0.1, 0.04
    echo = np.convolve(far, path)[:n]
    near_noise = rng.standard_normal(n) * amplitude(-75.0)
    return clip_to_int16(far), clip_to_int16(echo + near_noise)


def test_echo_canceller_reduces_echo_by_15_db_after_convergence() -> None:
    far, mic = echo_scene(8)
    with EchoCanceller(FRAME, 1024, RATE) as ec:
        out = np.concatenate(
            [ec.process(m, f) for m, f in zip(frames(mic), frames(far), strict=True)]
        )
    tail = slice(5 * RATE, 8 * RATE)  # after 5 s of adaptation
    reduction = energy_db(mic[tail]) - energy_db(out[tail])
    assert reduction >= 15.0, f"echo reduced by only {reduction:.1f} dB"
    # the first half second, before the filter has adapted, is reduced much less
    head = slice(0, RATE // 2)
    assert energy_db(mic[head]) - energy_db(out[head]) < reduction - 10.0


def test_chain_residual_echo_suppression_goes_further_than_aec_alone() -> None:
    far, mic = echo_scene(8)
    with EchoCanceller(FRAME, 1024, RATE) as ec, ProcessingChain(aec=True) as chain:
        alone = np.concatenate(
            [ec.process(m, f) for m, f in zip(frames(mic), frames(far), strict=True)]
        )
        chained = np.concatenate(
            [chain.process_capture(m, f)[0] for m, f in zip(frames(mic), frames(far), strict=True)]
        )
    second = slice(RATE, 2 * RATE)  # while the adaptive filter is still converging
    by_aec = energy_db(mic[second]) - energy_db(alone[second])
    by_chain = energy_db(mic[second]) - energy_db(chained[second])
    assert by_chain >= by_aec + 6.0, (by_aec, by_chain)


def test_chain_aec_keeps_near_end_speech() -> None:
    near = vowel(RATE * 3, -20.0, seed=3)
    with ProcessingChain(aec=True) as chain:
        out = np.concatenate([chain.process_capture(m)[0] for m in frames(near)])
    assert abs(level_dbfs(out[RATE:]) - level_dbfs(near[RATE:])) < 1.0


def test_echo_canceller_leaves_near_end_speech_when_far_end_is_silent() -> None:
    near = vowel(RATE * 2, -20.0, seed=3)
    silent = np.zeros(FRAME, dtype=np.int16)
    with EchoCanceller(FRAME, 1024, RATE) as ec:
        out = np.concatenate([ec.process(m, silent) for m in frames(near)])
    assert abs(level_dbfs(out[RATE:]) - level_dbfs(near[RATE:])) < 1.0


# --- ANS ---------------------------------------------------------------------------------


def test_noise_suppression_lowers_noise_floor_and_keeps_tone() -> None:
    seconds = 8
    n = RATE * seconds
    t = np.arange(n) / RATE
    noise = np.random.default_rng(7).standard_normal(n) * amplitude(-30.0)
    tone_on = (t % 1.0) < 0.5
    tone = math.sqrt(2.0) * amplitude(-10.0) * np.sin(2 * np.pi * 440 * t) * tone_on
    signal = clip_to_int16(noise + tone)
    with Preprocessor(FRAME, RATE, denoise=True) as pre:
        out = np.concatenate([pre.process(f) for f in frames(signal)])
    for second in range(2, seconds):  # after two seconds of noise estimation
        on = slice(int((second + 0.1) * RATE), int((second + 0.4) * RATE))
        off = slice(int((second + 0.6) * RATE), int((second + 0.9) * RATE))
        assert level_dbfs(signal[off]) - level_dbfs(out[off]) >= 6.0
        assert abs(level_dbfs(out[on]) - level_dbfs(signal[on])) <= 3.0


def test_preprocessor_with_everything_off_is_a_one_frame_delay() -> None:
    signal = clip_to_int16(np.random.default_rng(8).standard_normal(RATE) * amplitude(-30.0))
    with Preprocessor(FRAME, RATE, denoise=False) as pre:
        out = np.concatenate([pre.process(f) for f in frames(signal)])
    assert np.array_equal(out[FRAME:], signal[:-FRAME])


# --- AGC ---------------------------------------------------------------------------------


def agc_output_level(level: float, agc_level: int = 8000) -> float:
    signal = speech_like(RATE * 12, level, seed=3)
    with Preprocessor(FRAME, RATE, denoise=False, agc=True, agc_level=agc_level) as pre:
        out = np.concatenate([pre.process(f) for f in frames(signal)])
    return level_dbfs(out[-3 * RATE :])


def test_agc_raises_quiet_and_lowers_loud_to_the_same_level() -> None:
    quiet, loud = agc_output_level(-40.0), agc_output_level(-6.0)
    assert quiet - (-40.0) >= 15.0  # raised
    assert loud < -6.0 - 10.0  # lowered
    assert abs(quiet - loud) <= 2.0  # normalised
    # speex's loudness target 8000 stands for about -20 dBFS of this speech-band signal
    assert abs(quiet - (-20.0)) <= 3.0


def test_agc_target_doubling_adds_six_db() -> None:
    low, high = agc_output_level(-30.0, 4000), agc_output_level(-30.0, 8000)
    assert 4.5 <= high - low <= 7.5


def test_agc_off_leaves_level_alone() -> None:
    signal = speech_like(RATE * 2, -40.0, seed=3)
    with Preprocessor(FRAME, RATE, denoise=False, agc=False) as pre:
        out = np.concatenate([pre.process(f) for f in frames(signal)])
    assert np.array_equal(out[FRAME:], signal[:-FRAME])
    assert pre.closed


# --- VAD ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000, 32000, 48000])
def test_vad_hears_speech_and_not_silence_or_low_noise(rate: int) -> None:
    size = rate // 50
    speech = vowel(rate, -20.0, seed=1, rate=rate)
    low_noise = clip_to_int16(np.random.default_rng(2).standard_normal(rate) * amplitude(-70.0))
    # a fresh detector per signal: the WebRTC VAD has its own short hangover
    detector = VoiceActivityDetector(2, rate, 0.02)
    assert sum(detector.is_speech(f) for f in frames(speech, size)) >= 45  # of 50
    detector = VoiceActivityDetector(2, rate, 0.02)
    heard = [detector.is_speech(f) for f in frames(low_noise, size)]
    assert not any(heard[5:])  # after the VAD's first 100 ms of settling, none
    detector = VoiceActivityDetector(3, rate, 0.02)  # the most aggressive mode: none at all
    assert not any(detector.is_speech(f) for f in frames(low_noise, size))
    detector = VoiceActivityDetector(2, rate, 0.02)
    assert not detector.is_speech(np.zeros(size, dtype=np.int16))


def test_vad_on_multiple_frames_is_speech_if_any_part_is() -> None:
    detector = VoiceActivityDetector.for_frame(2, RATE, 480)  # 60 ms -> 30 ms detector
    assert detector.frame_samples == 240
    assert detector.is_speech(np.zeros(480, np.int16)) is False
    silent_then_speech = np.concatenate([np.zeros(240, np.int16), vowel(240, -20.0, seed=4)])
    assert detector.is_speech(silent_then_speech) is True


def test_vad_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="mode"):
        VoiceActivityDetector(4)
    with pytest.raises(ValueError, match="sample rate"):
        VoiceActivityDetector(2, 44100)
    with pytest.raises(ValueError, match="duration"):
        VoiceActivityDetector(2, 8000, 0.025)
    with pytest.raises(ValueError, match="160 samples"):
        VoiceActivityDetector(2, 8000, 0.02).is_speech(np.zeros(100, np.int16))


# --- silence suppression / CNG ----------------------------------------------------------


LETTER = {SendAction.AUDIO: "A", SendAction.COMFORT_NOISE: "C", SendAction.NOTHING: "."}
QUIET = clip_to_int16(np.random.default_rng(5).standard_normal(FRAME) * amplitude(-50.0))


def letters(suppressor: SilenceSuppressor, script: str, frame: Pcm = QUIET) -> str:
    """Decisions as letters: A audio, C comfort noise, . nothing; '^' before a talkspurt."""
    out = []
    for ch in script:
        d = suppressor.decide(ch == "S", frame)
        mark = "^" if d.talkspurt_start else ""
        out.append(mark + LETTER[d.action])
    return "".join(out)


def test_hangover_then_cn_once_then_nothing() -> None:
    sup = SilenceSuppressor(cng=True, hangover_frames=3, cn_refresh_frames=50)
    script = "SSS" + "-" * 8 + "S" + "-" * 5
    assert letters(sup, script) == "^AAA" + "AAA" + "C...." + "^A" + "AAA" + "C."


def test_stream_that_starts_silent_sends_cn_at_once() -> None:
    sup = SilenceSuppressor(cng=True, hangover_frames=5)
    assert letters(sup, "---S") == "C..^A"


def test_without_cng_silence_sends_nothing() -> None:
    sup = SilenceSuppressor(cng=False, hangover_frames=2)
    assert letters(sup, "S-----S") == "^AAA...^A"


def test_cn_is_refreshed_every_n_silent_frames() -> None:
    sup = SilenceSuppressor(cng=True, hangover_frames=0, cn_refresh_frames=4)
    assert letters(sup, "-" * 10) == "C...C...C."


def test_cn_is_resent_when_the_noise_level_moves() -> None:
    sup = SilenceSuppressor(cng=True, hangover_frames=0, cn_refresh_frames=100, cn_level_step=3)
    first = sup.decide(False, QUIET)
    assert first.action is SendAction.COMFORT_NOISE and first.noise_level == level_of(QUIET)
    louder_by_2 = clip_to_int16(QUIET * 10 ** (2 / 20))
    assert sup.decide(False, louder_by_2).action is SendAction.NOTHING
    louder_by_6 = clip_to_int16(QUIET * 10 ** (6 / 20))
    update = sup.decide(False, louder_by_6)
    assert update.action is SendAction.COMFORT_NOISE
    assert update.noise_level == level_of(louder_by_6) == level_of(QUIET) - 6


def test_suppressor_process_runs_the_detector() -> None:
    sup = SilenceSuppressor(VoiceActivityDetector(2, RATE), cng=True, hangover_frames=1)
    speech = frames(vowel(RATE // 5, -20.0, seed=6))
    silent = np.zeros(FRAME, dtype=np.int16)
    decisions = [sup.process(f) for f in [*speech, *[silent] * 15]]
    pattern = "".join(LETTER[d.action] for d in decisions)
    # the WebRTC VAD's own hangover adds a few frames before ours (1) runs out
    assert re.fullmatch(r"A{11,}C\.+", pattern), pattern
    cn = next(d for d in decisions if d.action is SendAction.COMFORT_NOISE)
    assert cn.noise_level == 127  # digital silence
    assert decisions[0].talkspurt_start and decisions[0].speech
    last_speech = max(i for i, d in enumerate(decisions) if d.speech)
    assert decisions[last_speech + 1].action is SendAction.AUDIO  # our hangover frame
    assert decisions[last_speech + 2].action is SendAction.COMFORT_NOISE


# --- chain -------------------------------------------------------------------------------


def test_chain_with_everything_off_passes_frames_through() -> None:
    chain = ProcessingChain()
    frame = QUIET
    out, decision = chain.process_capture(frame)
    assert np.array_equal(out, frame) and decision is SEND_AUDIO


def test_chain_vad_and_cng_decide_per_frame() -> None:
    chain = ProcessingChain(vad=True, cng=True, hangover_frames=2)
    silent = np.zeros(FRAME, dtype=np.int16)
    speech = frames(vowel(RATE // 10, -20.0, seed=9))
    decisions = [chain.process_capture(f)[1] for f in [*speech, *[silent] * 12]]
    last_speech = max(i for i, d in enumerate(decisions) if d.speech)
    assert last_speech >= 4  # the five speech frames were heard
    tail = "".join(LETTER[d.action] for d in decisions[last_speech + 1 :])
    assert tail.startswith("AAC.") and set(tail[3:]) == {"."}
    chain.cng = False
    assert chain.process_capture(silent)[1].action is SendAction.NOTHING
    chain.vad = False
    assert chain.process_capture(silent)[1] is SEND_AUDIO


def test_chain_switches_build_and_free_stages() -> None:
    noise = clip_to_int16(np.random.default_rng(12).standard_normal(RATE * 3) * amplitude(-30))
    chain = ProcessingChain(ans=True)
    out = np.concatenate([chain.process_capture(f)[0] for f in frames(noise)])
    assert level_dbfs(noise[-RATE:]) - level_dbfs(out[-RATE:]) >= 6.0
    chain.ans = False
    last = frames(noise)[-1]
    assert np.array_equal(chain.process_capture(last)[0], last)  # preprocessor freed
    chain.aec = True
    chain.process_capture(last, last)
    chain.aec = False
    assert np.array_equal(chain.process_capture(last)[0], last)
    chain.close()
    chain.close()


def test_chain_rejects_a_wrong_frame_length() -> None:
    with pytest.raises(ValueError, match="160 samples"):
        ProcessingChain().process_capture(np.zeros(80, np.int16))


# --- binding lifecycle -------------------------------------------------------------------


def test_close_is_idempotent_and_use_after_close_raises() -> None:
    ec = EchoCanceller(FRAME, 512, RATE)
    pre = Preprocessor(FRAME, RATE)
    pre.link_echo(ec)
    ec.close()  # unlinks the preprocessor before freeing the echo state
    assert pre.echo is None and ec.closed
    pre.process(QUIET)  # still usable without the echo state
    ec.close()
    pre.close()
    pre.close()
    with pytest.raises(ValueError, match="closed"):
        ec.process(QUIET, QUIET)
    with pytest.raises(ValueError, match="closed"):
        pre.process(QUIET)


def test_many_objects_created_and_closed() -> None:
    for _ in range(200):
        with EchoCanceller(FRAME, 1024, RATE) as ec, Preprocessor(FRAME, RATE) as pre:
            pre.link_echo(ec)
            pre.process(ec.process(QUIET, QUIET))
        assert ec.closed and pre.closed


def test_frame_size_checks() -> None:
    with EchoCanceller(FRAME, 512, RATE) as ec:
        with pytest.raises(ValueError, match="mic frame must be 160"):
            ec.process(np.zeros(80, np.int16), QUIET)
        with Preprocessor(80, RATE) as pre, pytest.raises(ValueError, match="frame size"):
            pre.link_echo(ec)
    with pytest.raises(ValueError, match="attenuation"):
        Preprocessor(FRAME, RATE, noise_suppress_db=5)


def test_input_frames_are_not_modified() -> None:
    frame = QUIET.copy()
    with Preprocessor(FRAME, RATE, denoise=True, agc=True) as pre:
        for _ in range(20):
            pre.process(frame)
    assert np.array_equal(frame, QUIET)


def test_missing_library_names_the_debian_package() -> None:
    with pytest.raises(SpeexUnavailableError, match=DEBIAN_PACKAGE):
        load_speexdsp(("libspeexdsp-not-here.so.9",))
    assert DEBIAN_PACKAGE == "libspeexdsp1"
    assert load_speexdsp() is load_speexdsp()  # the real library, cached
