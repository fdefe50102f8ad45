"""`make demo` (python -m voipkit demo) runs the manual's P2P call for real.

Proves: the demo exits 0; its timeline shows every step of the P2P sample in
order (incoming, ringing, answered, connected, file played, DTMF received digit
by digit, remote hold and unhold, closed on both sides); the recording it leaves
on disk holds the speech that was sent (the same envelope check the demo prints,
re-run here on the file); and that check is not trivially true (reversed speech
and silence score low).
"""

from __future__ import annotations

import subprocess
import sys
import wave
from importlib.resources import files
from pathlib import Path

import numpy as np

from voipkit.demo import speech_similarity


def _pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def test_demo_runs_the_p2p_call(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "voipkit", "demo", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    steps = ["222  onInviteIncoming", "111  onInviteRinging 180", "111  onInviteAnswered",
             "111  onInviteConnected", "111  onPlayFileFinished", "222  onRecvDtmfTone 1",
             "222  onRecvDtmfTone #", "222  onRemoteHold", "222  onRemoteUnHold",
             "222  onInviteClosed (bye-remote)"]
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "DTMF received    '1234#'" in out
    assert out.rstrip().endswith("demo OK")
    recording = _pcm(tmp_path / "recording.wav")
    speech = _pcm(Path(str(files("voipkit.data") / "speech-8k.wav")))
    assert len(recording) > len(speech)
    assert speech_similarity(speech, recording) > 0.9


def test_speech_check_is_not_trivially_true() -> None:
    speech = _pcm(Path(str(files("voipkit.data") / "speech-8k.wav")))
    padded = np.concatenate([np.zeros(8000, np.int16), speech, np.zeros(4000, np.int16)])
    assert speech_similarity(speech, padded) > 0.99
    assert speech_similarity(speech, np.concatenate([speech[::-1], speech[::-1]])) < 0.6
    noise = np.random.default_rng(1).normal(0, 3000, len(speech) * 2).astype(np.int16)
    assert speech_similarity(speech, noise) < 0.5
