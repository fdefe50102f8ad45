"""ConferenceBridge: mix-minus across legs at different rates, with no clock.

Proves:
- three members at 8, 16 and 48 kHz, each sending its own tone: each one's output
  holds the other two tones, and its own tone is at least 30 dB below the weaker
  of them; every frame is exactly ptime at the member's rate;
- the local device is a member like the calls: it hears them, they hear it;
- at the bridge rate (no resampling) the arithmetic is exact: each member hears
  the int32 sum of the others, clipped only at the end, so partial sums may
  exceed int16 and the result still comes out right, and loud input saturates
  instead of wrapping;
- mute leaves a voice out of the mix while the member still hears; deafen sends
  exact silence at once (also through a resampled leg) while the others still
  hear the deafened member; gain and output gain scale voice and mix;
- members join and leave between ticks with exact frame sizes from the first
  tick, and a member that left is no longer heard;
- a frame that has not arrived counts as silence and is not waited for; a late
  frame is played at the next tick; queued input beyond max_pending is dropped;
- the resampler FIFOs never run short over a long run, for the usual rates;
- by default (the linear resampler) a click from an 8 kHz leg reaches another 8 kHz
  leg and a 48 kHz leg within 2 ms of the tick it was put in (soxr "LQ" held an 8 kHz
  leg back ~120 ms), and ``info().delay`` says so;
- the PortSIP operations map to add / remove / clear, and bad input raises.
"""

from __future__ import annotations

import numpy as np
import pytest

from voipkit.media.conference import LOCAL_DEVICE, ConferenceBridge
from voipkit.media.frames import Pcm
from voipkit.media.ports import ToneSource

PTIME = 0.02


def samples_at(rate: int) -> int:
    return round(rate * PTIME)


def const(value: int, rate: int = 16000) -> Pcm:
    return np.full(samples_at(rate), value, dtype=np.int16)


def tone_power_db(signal: Pcm, rate: int, freq: float) -> float:
    """Power (dB, arbitrary reference) in a few bins around ``freq`` of a Hann-windowed FFT."""
    x = signal.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    centre = round(freq * len(x) / rate)
    return float(10.0 * np.log10(spectrum[centre - 3 : centre + 4].sum() + 1e-12))


def run_tones(
    bridge: ConferenceBridge,
    members: dict[object, tuple[int, float]],
    ticks: int,
) -> dict[object, Pcm]:
    """Add members (id -> (rate, tone Hz)), feed their tones for ``ticks`` ticks, collect output."""
    sources = {}
    for member_id, (rate, freq) in members.items():
        bridge.add(member_id, rate)
        sources[member_id] = ToneSource(freq, level_dbfs=-12.0, sample_rate=rate)
    heard: dict[object, list[Pcm]] = {member_id: [] for member_id in members}
    for _ in range(ticks):
        for member_id, (rate, _freq) in members.items():
            bridge.put(member_id, sources[member_id].read_frame(samples_at(rate), rate))
        out = bridge.tick()
        assert set(out) == set(members)
        for member_id, (rate, _freq) in members.items():
            frame = out[member_id]
            assert frame.dtype == np.int16
            assert len(frame) == samples_at(rate)
            heard[member_id].append(frame)
    return {member_id: np.concatenate(frames) for member_id, frames in heard.items()}


def test_three_rates_each_member_hears_the_other_two_tones_and_not_its_own() -> None:
    bridge = ConferenceBridge(sample_rate=16000, ptime=PTIME)
    members: dict[object, tuple[int, float]] = {
        "narrow": (8000, 500.0),
        "wide": (16000, 1250.0),
        "full": (48000, 2000.0),
    }
    heard = run_tones(bridge, members, ticks=100)
    for member_id, (rate, own_freq) in members.items():
        steady = heard[member_id][len(heard[member_id]) // 2 :]  # the last second
        others = [
            tone_power_db(steady, rate, freq)
            for mid, (_, freq) in members.items()
            if mid != member_id
        ]
        own = tone_power_db(steady, rate, own_freq)
        assert min(others) - own >= 30.0, (member_id, others, own)
        # both other tones arrive at about the level they were sent (equal levels in, equal out)
        assert abs(others[0] - others[1]) < 1.0
        info = bridge.info(member_id)
        assert info.underruns == 0
        assert info.missed_ticks == 0
        assert info.frames_in == 100


def test_the_local_device_is_a_member_that_hears_the_calls_and_is_heard_by_them() -> None:
    bridge = ConferenceBridge()
    members: dict[object, tuple[int, float]] = {
        LOCAL_DEVICE: (48000, 700.0),
        1: (8000, 300.0),
        2: (8000, 1100.0),
    }
    heard = run_tones(bridge, members, ticks=100)
    assert LOCAL_DEVICE in bridge
    for member_id, (rate, own_freq) in members.items():
        steady = heard[member_id][len(heard[member_id]) // 2 :]
        own = tone_power_db(steady, rate, own_freq)
        for other, (_, freq) in members.items():
            if other != member_id:
                assert tone_power_db(steady, rate, freq) - own >= 30.0, (member_id, other)


def test_at_the_bridge_rate_each_member_hears_the_exact_sum_of_the_others() -> None:
    bridge = ConferenceBridge(sample_rate=16000)
    values = {"a": 1000, "b": 2000, "c": 3000, "d": -500}
    for member_id in values:
        bridge.add(member_id, 16000)
        assert bridge.info(member_id).delay == 0.0
    for member_id, value in values.items():
        bridge.put(member_id, const(value))
    out = bridge.tick()
    total = sum(values.values())
    for member_id, value in values.items():
        assert np.array_equal(out[member_id], const(total - value))


def test_clipping_happens_once_at_the_end_and_saturates() -> None:
    bridge = ConferenceBridge()
    values = {"a": 30000, "b": 30000, "c": -30000, "d": 0, "e": -30000}
    for member_id in values:
        bridge.add(member_id, 16000)
    for member_id, value in values.items():
        bridge.put(member_id, const(value))
    out = bridge.tick()
    # d hears 30000 + 30000 - 30000 - 30000 = 0: a pairwise-clipping mixer would
    # have saturated a + b at 32767 and given -27233
    assert np.array_equal(out["d"], const(0))
    # c hears 30000 + 30000 + 0 - 30000 = 30000
    assert np.array_equal(out["c"], const(30000))
    # two loud voices saturate rather than wrap around
    bridge.set_muted("c")
    bridge.set_muted("e")
    for member_id, value in values.items():
        bridge.put(member_id, const(value))
    out = bridge.tick()
    assert np.array_equal(out["d"], const(32767))
    bridge.set_muted("a")
    bridge.set_muted("b")
    bridge.set_muted("c", False)
    bridge.set_muted("e", False)
    for member_id, value in values.items():
        bridge.put(member_id, const(value))
    out = bridge.tick()
    assert np.array_equal(out["d"], const(-32768))


def test_loud_tones_through_resampled_legs_saturate_without_wrapping() -> None:
    bridge = ConferenceBridge()
    for member_id, rate in (("x", 8000), ("y", 8000), ("z", 48000)):
        bridge.add(member_id, rate)
    x_tone = ToneSource(400.0, level_dbfs=0.0, sample_rate=8000)
    y_tone = ToneSource(400.0, level_dbfs=0.0, sample_rate=8000)
    heard = []
    for _ in range(60):
        bridge.put("x", x_tone.read_frame(160, 8000))
        bridge.put("y", y_tone.read_frame(160, 8000))
        heard.append(bridge.tick()["z"])
    z = np.concatenate(heard[20:]).astype(np.int32)
    # two full-scale tones in step sum to twice full scale: the peaks sit at the
    # rails for a good part of each period, and a wrap-around would show as jumps
    # of the order of 65536 between neighbouring samples
    assert z.max() == 32767 and z.min() == -32768
    assert np.mean(np.abs(z) >= 32000) > 0.3
    assert np.abs(np.diff(z)).max() < 16384
    assert bridge.info("z").underruns == 0


def test_mute_leaves_a_voice_out_but_the_member_still_hears() -> None:
    bridge = ConferenceBridge()
    bridge.add("a", 16000)
    bridge.add("b", 16000)
    bridge.add("c", 16000, muted=True)
    for member_id, value in (("a", 100), ("b", 20), ("c", 3)):
        bridge.put(member_id, const(value))
    out = bridge.tick()
    assert np.array_equal(out["a"], const(20))
    assert np.array_equal(out["b"], const(100))
    assert np.array_equal(out["c"], const(120))
    assert bridge.info("c").muted
    bridge.set_muted("c", False)
    for member_id, value in (("a", 100), ("b", 20), ("c", 3)):
        bridge.put(member_id, const(value))
    out = bridge.tick()
    assert np.array_equal(out["a"], const(23))


def test_deafen_sends_exact_silence_at_once_and_the_member_is_still_heard() -> None:
    bridge = ConferenceBridge()
    bridge.add("near", 16000)
    bridge.add("narrow", 8000)
    near_tone = ToneSource(600.0, level_dbfs=-6.0, sample_rate=16000)
    narrow_tone = ToneSource(900.0, level_dbfs=-6.0, sample_rate=8000)

    def step() -> dict[object, Pcm]:
        bridge.put("near", near_tone.read_frame(320, 16000))
        bridge.put("narrow", narrow_tone.read_frame(160, 8000))
        return dict(bridge.tick())

    for _ in range(30):
        out = step()
    assert np.abs(out["narrow"]).max() > 1000  # it hears the 600 Hz tone by now
    bridge.set_deafened("narrow")
    heard_by_near = []
    for _ in range(30):
        out = step()
        assert np.array_equal(out["narrow"], np.zeros(160, dtype=np.int16))
        heard_by_near.append(out["near"])
    assert tone_power_db(np.concatenate(heard_by_near[10:]), 16000, 900.0) > 100.0
    bridge.set_deafened("narrow", False)
    frames = [step()["narrow"] for _ in range(30)]
    assert all(len(f) == 160 for f in frames)
    assert tone_power_db(np.concatenate(frames[10:]), 8000, 600.0) > 100.0


def test_gain_scales_a_voice_and_output_gain_scales_what_a_member_hears() -> None:
    bridge = ConferenceBridge()
    bridge.add("a", 16000, gain=0.5)
    bridge.add("b", 16000, output_gain=2.0)
    bridge.add("c", 16000)
    bridge.put("a", const(1001))
    bridge.put("b", const(300))
    bridge.put("c", const(20000))
    out = bridge.tick()
    assert np.array_equal(out["c"], const(500 + 300))  # rint(500.5) is 500 (half to even)
    assert np.array_equal(out["b"], const(32767))  # 2 x 20500, clipped
    assert np.array_equal(out["a"], const(20300))
    bridge.set_gain("c", 0.0)
    bridge.set_output_gain("b", 1.0)
    bridge.put("a", const(1000))
    bridge.put("b", const(300))
    bridge.put("c", const(20000))
    out = bridge.tick()
    assert np.array_equal(out["b"], const(500))
    assert bridge.info("b").output_gain == 1.0


def test_members_join_and_leave_between_ticks_with_exact_frame_sizes() -> None:
    bridge = ConferenceBridge()
    bridge.add("a", 16000)
    bridge.add("b", 16000)
    late_tone = ToneSource(1500.0, level_dbfs=-6.0, sample_rate=48000)
    heard_by_b: list[Pcm] = []
    for tick in range(60):
        if tick == 10:
            bridge.add("late", 48000)
        if tick == 40:
            bridge.remove("a")
        expected = {"b": 320}
        if tick < 40:
            expected["a"] = 320
            bridge.put("a", const(7))
        if tick >= 10:
            expected["late"] = 960
            bridge.put("late", late_tone.read_frame(960, 48000))
        bridge.put("b", const(0))
        out = bridge.tick()
        assert {k: len(v) for k, v in out.items()} == expected
        heard_by_b.append(out["b"])
    assert np.array_equal(heard_by_b[5], const(7))  # only a, before late joined
    # late's tone reaches b after its resampler delay; a's constant leaves with a
    assert tone_power_db(np.concatenate(heard_by_b[20:40]), 16000, 1500.0) > 100.0
    after = np.concatenate(heard_by_b[40:])
    assert abs(float(np.mean(after))) < 1.0  # no more DC of 7 from a: a tone averages ~0
    assert "a" not in bridge and len(bridge) == 2
    assert list(bridge) == ["b", "late"]
    with pytest.raises(KeyError):
        bridge.put("a", const(7))
    bridge.add("a", 8000)  # may rejoin, even at another rate
    assert len(bridge.tick()["a"]) == 160


def test_a_frame_that_has_not_arrived_is_silence_and_a_late_one_plays_next_tick() -> None:
    bridge = ConferenceBridge()
    bridge.add("a", 16000)
    bridge.add("b", 16000)
    bridge.put("a", const(5))
    out = bridge.tick()  # b sent nothing: it counts as silence, a is not held up
    assert np.array_equal(out["a"], const(0))
    assert np.array_equal(out["b"], const(5))
    assert bridge.info("b").missed_ticks == 1
    bridge.put("b", const(11))  # the late frame
    bridge.put("b", const(12))  # and the one on time
    bridge.put("a", const(5))
    assert np.array_equal(bridge.tick()["a"], const(11))
    assert np.array_equal(bridge.tick()["a"], const(12))  # a sent nothing this time
    assert bridge.info("a").missed_ticks == 1


def test_partial_frames_wait_and_pending_input_is_capped() -> None:
    bridge = ConferenceBridge(max_pending=0.06)
    bridge.add("a", 16000)
    bridge.add("b", 16000)
    # a 30 ms packet: one 20 ms frame now, the 10 ms rest waits for more
    bridge.put("a", np.arange(480, dtype=np.int16))
    assert np.array_equal(bridge.tick()["b"], np.arange(320, dtype=np.int16))
    assert np.array_equal(bridge.tick()["b"], const(0))
    bridge.put("a", np.arange(480, 960, dtype=np.int16))
    assert np.array_equal(bridge.tick()["b"], np.arange(320, 640, dtype=np.int16))
    assert bridge.info("a").missed_ticks == 1
    # 20 ms left over + 100 ms more, with a 60 ms cap: the oldest 60 ms go
    for value in range(1, 6):
        bridge.put("a", const(value))
    assert bridge.info("a").dropped_samples == 320 + 640
    assert np.array_equal(bridge.tick()["b"], const(3))


@pytest.mark.parametrize("rate", [8000, 12000, 16000, 22050, 24000, 32000, 44100, 48000])
def test_resampled_legs_never_run_short_over_a_long_run(rate: int) -> None:
    bridge = ConferenceBridge()
    bridge.add("leg", rate)
    bridge.add("ref", 16000)
    leg_tone = ToneSource(440.0, sample_rate=rate)
    ref_tone = ToneSource(880.0, sample_rate=16000)
    for _ in range(250):  # 5 s, longer than the 2 s lead probe
        bridge.put("leg", leg_tone.read_frame(samples_at(rate), rate))
        bridge.put("ref", ref_tone.read_frame(320, 16000))
        out = bridge.tick()
        assert len(out["leg"]) == samples_at(rate)
        assert len(out["ref"]) == 320
    assert bridge.info("leg").underruns == 0
    assert bridge.info("ref").underruns == 0
    assert bridge.ticks == 250


def test_other_bridge_rates_and_ptimes() -> None:
    bridge = ConferenceBridge(sample_rate=48000, ptime=0.01)
    assert bridge.frame_samples == 480
    bridge.add("a", 8000)
    bridge.add("b", 16000)
    for _ in range(50):
        bridge.put("a", const(1000, 8000)[:80])
        bridge.put("b", np.full(160, 1000, dtype=np.int16))
        out = bridge.tick()
        assert len(out["a"]) == 80 and len(out["b"]) == 160
    # a constant passes the resamplers at (almost) its level once the filters settle
    assert abs(int(out["a"][-1]) - 1000) <= 2
    assert abs(int(out["b"][-1]) - 1000) <= 2


def test_destroy_clears_every_member() -> None:
    bridge = ConferenceBridge()
    bridge.add(LOCAL_DEVICE, 48000)
    bridge.add(7, 8000)
    bridge.clear()
    assert len(bridge) == 0
    assert bridge.tick() == {}


def test_bad_input_raises() -> None:
    bridge = ConferenceBridge()
    bridge.add("a", 16000)
    with pytest.raises(ValueError):
        bridge.add("a", 8000)  # already in
    with pytest.raises(ValueError):
        bridge.add("b", 11025)  # 220.5 samples per 20 ms
    with pytest.raises(ValueError):
        bridge.add("b", 0)
    with pytest.raises(ValueError):
        bridge.add("b", 8000, gain=-1.0)
    with pytest.raises(ValueError):
        bridge.set_gain("a", float("nan"))
    with pytest.raises(ValueError):
        bridge.put("a", np.zeros(320, dtype=np.float32))
    with pytest.raises(ValueError):
        bridge.put("a", np.zeros((2, 160), dtype=np.int16))
    with pytest.raises(KeyError):
        bridge.remove("nobody")
    with pytest.raises(KeyError):
        bridge.set_muted("nobody")
    with pytest.raises(ValueError):
        ConferenceBridge(sample_rate=16000, ptime=0.0201)
    with pytest.raises(ValueError):
        ConferenceBridge(max_pending=0.01)


@pytest.mark.parametrize("quality", ["linear", "LQ"])
def test_path_delay_through_the_bridge(quality: str) -> None:
    bridge = ConferenceBridge(quality=quality)  # type: ignore[arg-type]
    rates = {"a": 8000, "b": 8000, "c": 48000}
    for member_id, rate in rates.items():
        bridge.add(member_id, rate)
    heard: dict[str, list[Pcm]] = {"b": [], "c": []}
    for tick in range(40):
        for member_id, rate in rates.items():
            frame = np.zeros(samples_at(rate), dtype=np.int16)
            if member_id == "a" and tick == 5:
                frame[0] = 20000  # a click at the start of tick 5
            bridge.put(member_id, frame)
        out = bridge.tick()
        for member_id in heard:
            heard[member_id].append(out[member_id])
    for member_id, frames in heard.items():
        rate = rates[member_id]
        signal = np.abs(np.concatenate(frames).astype(np.int32))
        arrival = int(np.argmax(signal >= signal.max() // 2)) - 5 * samples_at(rate)
        delay = arrival / rate
        if quality == "linear":
            assert 0 <= delay < 0.002, (member_id, delay)  # the low-pass: ~1 ms
            assert bridge.info(member_id).delay + bridge.info("a").delay < 0.001
        else:  # soxr's blocks: what the linear default removes
            assert delay > 0.02, (member_id, delay)

