"""The interop harness itself works: it starts each peer on loopback ports it chose and reads
what the peer reports.

Proves, quickly (each test well under 3 s):
- audio: a generated tone analyses back to its frequency and RMS, also from a WAV whose
  header a still-running writer has not finished; silence has no frequency;
- Baresip: starts on free ports bound to 127.0.0.1, answers ctrl_tcp commands with
  the P2P account it was given, and frees its SIP port when stopped by PID;
- Sipp: a background built-in UAS and a UAC complete 5 calls and the stat CSV is parsed
  into SippStats (5 successful, 0 failed);
- Linphonec: starts with file audio, answers a command on stdin, listens on its SIP port.
Calls between third-party peers are left to the voipkit tests that use this harness.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest

from interop import audio
from interop.baresip import Baresip, port_is_free
from interop.linphone import Linphonec
from interop.sipp import Sipp, background

pytestmark = pytest.mark.interop


def test_tone_analysis_roundtrip_and_unfinished_header(tmp_path: Path) -> None:
    path = audio.write_tone(tmp_path / "tone.wav", 1000.0, 1.0)
    stats = audio.analyse(path)
    assert abs(stats.frequency - 1000.0) < 1.0
    assert abs(stats.rms - 0.5 / math.sqrt(2)) < 0.001
    assert stats.seconds == 1.0 and stats.matches(1000.0, min_seconds=0.9)
    assert not stats.matches(440.0)
    # a writer that has not closed its file leaves the data chunk length at 0
    raw = bytearray(path.read_bytes())
    data_at = raw.index(b"data")
    struct.pack_into("<I", raw, data_at + 4, 0)
    unfinished = tmp_path / "unfinished.wav"
    unfinished.write_bytes(bytes(raw))
    assert audio.duration(unfinished) == 1.0
    silent = audio.analyse(audio.write_silence(tmp_path / "silence.wav", 0.5))
    assert silent.frequency == 0.0 and silent.dbfs == float("-inf")


def test_baresip_starts_on_loopback_ports_it_chose(tmp_path: Path) -> None:
    ua = Baresip(state=tmp_path / "alice", user="alice")
    with ua:
        assert not port_is_free(ua.sip_port)
        data = ua.command("reginfo")["data"]
        assert f"sip:alice@127.0.0.1:{ua.sip_port}" in data
        assert not ua.registered()  # regint=0: a P2P account never registers
        assert "Binding to interface or IP address '127.0.0.1'" in ua.log_text()
        assert ua.last_received_wav() is None
    assert ua.proc is None and port_is_free(ua.sip_port)


def test_sipp_stat_csv_is_parsed(tmp_path: Path) -> None:
    with background(Sipp.uas(tmp_path, timeout=20)) as uas:
        result = Sipp.uac(tmp_path, uas.address, count=5, rate=50, timeout=10).run()
        assert result.ok, result.describe()
        assert result.stats is not None
        assert (result.stats.successful, result.stats.failed) == (5, 0)
        assert result.stats.total_created == 5 and result.stats.elapsed > 0
        uas.stop(graceful=False)
    assert uas.result is not None and uas.result.stats is not None


def test_linphonec_is_driven_through_stdin(tmp_path: Path) -> None:
    lp = Linphonec(state=tmp_path / "lp", autoanswer=False)
    with lp:
        assert not port_is_free(lp.sip_port, tcp=False)
        assert "No active call." in lp.calls(settle=0.0)
    assert "Using wav files instead of soundcard." in lp.transcript()
