"""The E-model, the statistics document and the bandwidth helpers give the published numbers.

Proves:
- G.107 Annex B R -> MOS: R = 93.2 gives 4.41, R = 50 gives 2.575, and the clamps at
  R <= 0 (1.0) and R >= 100 (4.5);
- with the G.107 default parameters and no delay or loss, R is 93.2 (§7.7), i.e. the
  computed Ro is 94.77 and Id(0) is 0.15 (Table 3 defaults);
- Id stays small below 100 ms and grows fast past 150 ms (the G.114 planning limit);
- Ie,eff follows G.107 eq. 7-29 for G.711 with and without PLC (Bpl 25.1 / 4.3) and
  grows with burstiness;
- R and MOS fall monotonically with loss and with delay;
- the statistics document has exactly the documented structure for a constructed
  input, is JSON-serialisable, and has no MOS without a report or without figures;
- StreamSnapshot.from_statistics reads an ``RtpStream.statistics()`` mapping;
- RFC 3550 §6.2 / RFC 3556 bandwidth: G.711 at 20 ms is 80 kbit/s on IPv4 (b=AS:80),
  RS and RR are 1.25% and 3.75% of it; IPv6 and SRTP overhead; the b= lines.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from voipkit.media.quality import (
    CODEC_IMPAIRMENTS,
    CodecImpairment,
    StreamSnapshot,
    as_kbps,
    bandwidth_lines,
    delay_impairment,
    effective_equipment_impairment,
    mos_from_r,
    r_factor,
    rtcp_bandwidth,
    session_bandwidth,
    statistics_document,
)
from voipkit.sdp.model import Bandwidth

G711 = CODEC_IMPAIRMENTS["pcmu"]


def test_mos_from_r_at_known_points() -> None:
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.005)
    assert mos_from_r(50) == pytest.approx(2.575)
    assert mos_from_r(0) == 1.0 and mos_from_r(-5) == 1.0
    assert mos_from_r(100) == 4.5 and mos_from_r(120) == 4.5
    assert mos_from_r(60) == pytest.approx(1 + 0.035 * 60)


def test_default_connection_rates_93_2() -> None:
    assert r_factor(delay=0.0, loss=0.0, impairment=G711) == pytest.approx(93.2, abs=0.02)
    assert delay_impairment(0.0) == pytest.approx(0.15, abs=0.01)


def test_delay_impairment_shape() -> None:
    assert delay_impairment(0.1) < 3.0
    assert delay_impairment(0.15) < 4.0
    assert delay_impairment(0.3) - delay_impairment(0.2) > 10.0  # the Idd knee
    assert mos_from_r(r_factor(delay=0.4, loss=0.0, impairment=G711)) < 3.4


def test_effective_equipment_impairment() -> None:
    # Ie,eff = 0 + 95 * 2 / (2 + Bpl) for 2% random loss.
    assert effective_equipment_impairment(0, 25.1, 0.02) == pytest.approx(95 * 2 / 27.1)
    assert effective_equipment_impairment(0, 4.3, 0.02) == pytest.approx(95 * 2 / 6.3)
    assert effective_equipment_impairment(11, 19, 0.0) == 11
    assert (effective_equipment_impairment(0, 25.1, 0.05, burst_ratio=2.0)
            > effective_equipment_impairment(0, 25.1, 0.05))


def test_monotonic_in_loss_and_delay() -> None:
    losses = [0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
    by_loss = [r_factor(delay=0.05, loss=x, impairment=G711) for x in losses]
    assert by_loss == sorted(by_loss, reverse=True) and len(set(by_loss)) == len(losses)
    delays = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.8]
    by_delay = [r_factor(delay=d, loss=0.01, impairment=G711) for d in delays]
    assert by_delay == sorted(by_delay, reverse=True) and len(set(by_delay)) == len(delays)
    mos = [mos_from_r(r) for r in by_loss]
    assert mos == sorted(mos, reverse=True)


SNAPSHOT = StreamSnapshot(
    time=12.5, codec="PCMU", ptime=0.02,
    packets_sent=500, bytes_sent=86000, packets_received=490, bytes_received=84280,
    lost=10, fraction_lost=0.02, jitter=0.004, rtt=0.06, jitter_buffer_delay=0.04,
    remote_lost=5, remote_fraction_lost=0.01, remote_jitter=0.002,
)


def test_statistics_document_structure() -> None:
    document = statistics_document(SNAPSHOT)
    # delay = 60/2 + 40 (buffer) + 20 (packet) + 0 (G.711 look-ahead) = 90 ms.
    send_r = r_factor(delay=0.09, loss=0.01, impairment=G711)
    receive_r = r_factor(delay=0.09, loss=0.02, impairment=G711)
    assert document == {
        "time": 12.5,
        "codec": "PCMU",
        "e_model": "G.113 Appendix I: G.711 with PLC (Bpl 25.1)",
        "send": {
            "codec": "PCMU", "packets": 500, "bytes": 86000, "lost": 5,
            "fraction_lost": 0.01, "jitter_ms": 2.0, "rtt_ms": 60.0, "delay_ms": 90.0,
            "r_factor": 87.23, "mos": 4.27,
        },
        "receive": {
            "codec": "PCMU", "packets": 490, "bytes": 84280, "lost": 10,
            "fraction_lost": 0.02, "jitter_ms": 4.0, "rtt_ms": 60.0, "delay_ms": 90.0,
            "r_factor": 83.86, "mos": 4.16,
        },
    }
    assert round(send_r, 2) == 87.23 and round(receive_r, 2) == 83.86
    assert json.loads(json.dumps(document)) == document


def test_no_mos_without_a_report_or_without_figures() -> None:
    fresh = StreamSnapshot(time=0.0, codec="PCMA", ptime=0.02, packets_sent=10,
                           bytes_sent=1720, packets_received=0, bytes_received=0, lost=0,
                           fraction_lost=0.0, jitter=0.0, rtt=None, jitter_buffer_delay=0.04)
    document = statistics_document(fresh)
    send, receive = document["send"], document["receive"]
    assert isinstance(send, dict) and isinstance(receive, dict)
    assert (send["lost"], send["fraction_lost"], send["jitter_ms"], send["mos"]) == \
        (None, None, None, None)
    assert (receive["rtt_ms"], receive["mos"], receive["delay_ms"]) == (None, None, 60.0)
    unknown = replace(SNAPSHOT, codec="L16")
    document = statistics_document(unknown)
    assert document["e_model"] is None
    assert isinstance(document["receive"], dict) and document["receive"]["mos"] is None
    mine = CodecImpairment(10.0, 10.0, 0.0, "measured in our lab")
    document = statistics_document(unknown, impairment=mine)
    assert document["e_model"] == "measured in our lab"
    assert isinstance(document["receive"], dict) and document["receive"]["mos"] is not None


def test_snapshot_from_stream_statistics() -> None:
    stats: dict[str, int | float | str | None] = {
        "codec": "PCMU", "time": 12.5, "packets_sent": 500, "bytes_sent": 86000,
        "packets_received": 490, "bytes_received": 84280, "lost": 10,
        "fraction_lost": 0.02, "jitter_ms": 4.0, "rtt_ms": 60.0,
        "jitter_buffer_delay_ms": 40.0, "remote_fraction_lost": 0.01, "remote_lost": 5,
        "remote_jitter_ms": 2.0, "malformed": 0,
    }
    snapshot = StreamSnapshot.from_statistics(stats, ptime=0.02)
    assert statistics_document(snapshot) == statistics_document(SNAPSHOT)
    stats |= {"rtt_ms": None, "remote_lost": None, "remote_fraction_lost": None,
              "remote_jitter_ms": None}
    snapshot = StreamSnapshot.from_statistics(stats, ptime=0.02)
    assert (snapshot.rtt, snapshot.remote_lost, snapshot.remote_jitter) == (None, None, None)
    with pytest.raises(TypeError, match="lost"):
        StreamSnapshot.from_statistics(stats | {"lost": "ten"}, ptime=0.02)


def test_bandwidth() -> None:
    g711 = session_bandwidth(64000, 0.02)
    assert g711 == 80000 and as_kbps(g711) == 80
    assert rtcp_bandwidth(g711) == (1000, 3000)
    assert session_bandwidth(64000, 0.02, ip_version=6) == 88000
    assert session_bandwidth(64000, 0.02, srtp_tag=10) == 84000
    assert as_kbps(session_bandwidth(6300, 0.03)) == 17  # G.723.1: 6300 + 10667
    with pytest.raises(ValueError, match="IP version"):
        session_bandwidth(64000, 0.02, ip_version=5)
    assert bandwidth_lines(as_kbps=80, rs=1000, rr=3000) == [
        Bandwidth("AS", 80), Bandwidth("RS", 1000), Bandwidth("RR", 3000)]
    assert bandwidth_lines(rs=0, rr=0) == [Bandwidth("RS", 0), Bandwidth("RR", 0)]
    with pytest.raises(ValueError, match="b=RR of -1"):
        bandwidth_lines(rr=-1)
