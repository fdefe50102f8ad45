"""Audio for ``voipkit agent``: the ``--srtp``, ``--record-mode``, ``--record-stereo`` and
``--conference`` options.

Knows: the agent's parsed arguments and the public API (``Phone.set_srtp_policy``,
``Call.start_record`` with ``RecordMode``, ``Phone.create_conference`` /
``Conference.join``). Must not know: anything below ``api`` (the agent is an
application of the public API).

``--srtp none|prefer|force`` is the manual's setSrtpPolicy for every call (SDES keys
travel in the SDP, so it also allows them over UDP/TCP: the agent is a test tool).
``--record-mode send|recv|both`` and ``--record-stereo`` change what ``--record FILE``
holds (startRecord's audioRecordMode and channels 2: us left, the peer right); without
them ``--record`` keeps recording the received audio only. ``--conference`` creates the
phone's audio conference at start and joins every connected call to it, so the
callers hear each other.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voipkit.api import Call, Phone
from voipkit.api.media_files import RecordMode

__all__ = ["AudioOptions", "add_options", "joins_conference", "options", "records",
           "setup", "start_recording"]

_POLICIES = {"none": 0, "prefer": 2, "force": 1}
"The manual's SRTP_POLICY numbers (``Phone.set_srtp_policy`` takes them)."
_MODES = {"send": RecordMode.SEND, "recv": RecordMode.RECV, "both": RecordMode.BOTH}


@dataclass(frozen=True, slots=True)
class AudioOptions:
    """The agent's audio settings (voipkit's defaults when not given)."""

    srtp: str | None = None
    record_mode: str | None = None
    record_stereo: bool = False
    conference: bool = False


def add_options(add: Callable[..., Any]) -> None:
    """Add the audio options to the agent's parser (``add`` is ``add_argument``)."""
    add("--srtp", choices=tuple(_POLICIES),
        help="SRTP policy of every call: none, prefer (offer SDES keys) or force "
             "(SRTP or no call)")
    add("--record-mode", choices=tuple(_MODES),
        help="what --record holds: the audio sent, received (default) or both")
    add("--record-stereo", action="store_true",
        help="--record in stereo: our audio left, the peer's right")
    add("--conference", action="store_true",
        help="put every connected call into one audio conference")


def options(args: argparse.Namespace) -> AudioOptions:
    """The audio options as parsed (argparse checked the choices)."""
    return AudioOptions(srtp=args.srtp, record_mode=args.record_mode,
                        record_stereo=bool(args.record_stereo),
                        conference=bool(args.conference))


def setup(phone: Phone, audio: AudioOptions) -> None:
    """Apply the options to the phone (before it starts)."""
    if audio.srtp is not None:
        phone.set_srtp_policy(_POLICIES[audio.srtp], True)


def records(audio: AudioOptions) -> bool:
    """Whether ``--record`` goes through ``start_recording`` (mode or stereo given)."""
    return audio.record_mode is not None or audio.record_stereo


def start_recording(call: Call, path: str, audio: AudioOptions) -> None:
    """startRecord for a connected call: the mode and channels asked for, WAV at ``path``
    (finalised when the call ends)."""
    mode = _MODES[audio.record_mode] if audio.record_mode is not None else RecordMode.RECV
    call.start_record(path, mode=mode, stereo=audio.record_stereo)


def joins_conference(phone: Phone, audio: AudioOptions) -> bool:
    """Whether connected calls join the phone's conference (created on first use)."""
    if not audio.conference:
        return False
    if phone.conference is None:
        phone.create_conference()
    return True
