"""The codec table finds rows the way SDP names them and exports SDP capabilities.

Proves:
- find() matches encoding names case-insensitively (RFC 4566 §6) and requires the
  clock rate and channel count to match;
- find_static() finds rows by static payload type (RFC 3551 §6 table 4);
- capabilities() lists rows in preference order with static or preferred dynamic
  payload types and fmtp (telephone-event: 101, "0-16");
- the telephone-event row is not an audio codec and refuses to build one;
- a new codec is one more row.
"""

from __future__ import annotations

import numpy as np
import pytest

from voipkit.media.codecs import (
    DEFAULT_CODECS,
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    CodecCapability,
    CodecRegistry,
    CodecSpec,
    G711Decoder,
    G711Encoder,
)


def test_find_is_case_insensitive_and_exact_on_rate_and_channels() -> None:
    assert DEFAULT_CODECS.find("pcmu", 8000) is PCMU
    assert DEFAULT_CODECS.find("PCMA", 8000, 1) is PCMA
    assert DEFAULT_CODECS.find("Telephone-Event", 8000) is TELEPHONE_EVENT
    assert DEFAULT_CODECS.find("PCMU", 16000) is None
    assert DEFAULT_CODECS.find("PCMU", 8000, 2) is None
    assert DEFAULT_CODECS.find("opus", 48000, 2) is None


def test_find_static() -> None:
    assert DEFAULT_CODECS.find_static(0) is PCMU
    assert DEFAULT_CODECS.find_static(8) is PCMA
    assert DEFAULT_CODECS.find_static(101) is None


def test_capabilities_for_sdp() -> None:
    # telephone-event is added by the SDP layer, so it is not offered twice
    assert DEFAULT_CODECS.capabilities() == [
        CodecCapability("PCMU", 8000, 1, 0, {}),
        CodecCapability("PCMA", 8000, 1, 8, {}),
    ]
    assert len(DEFAULT_CODECS) == 3
    assert [s.name for s in DEFAULT_CODECS] == ["PCMU", "PCMA", "telephone-event"]


def test_telephone_event_row_builds_no_codec() -> None:
    assert not TELEPHONE_EVENT.is_audio
    with pytest.raises(TypeError):
        TELEPHONE_EVENT.make_encoder()
    with pytest.raises(TypeError):
        TELEPHONE_EVENT.make_decoder()


def test_a_new_codec_is_a_new_row() -> None:
    wideband_ulaw = CodecSpec(
        name="X-ULAW16", clock_rate=16000, sample_rate=16000, preferred_payload_type=110,
        fmtp={"mode": "1"},
        make_encoder=lambda: G711Encoder("u"), make_decoder=lambda: G711Decoder("u"),
    )
    registry = CodecRegistry([wideband_ulaw, *DEFAULT_CODECS])
    found = registry.find("x-ulaw16", 16000)
    assert found is wideband_ulaw
    assert registry.capabilities()[0] == CodecCapability("X-ULAW16", 16000, 1, 110, {"mode": "1"})
    pcm = np.zeros(320, dtype=np.int16)
    assert found.make_decoder().decode(found.make_encoder().encode(pcm)).tolist() == [0] * 320
