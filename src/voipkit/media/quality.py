"""Call quality figures: the E-model MOS estimate (ITU-T G.107), the statistics document
of the manual's ``getStatistics``/``onStatistics``, and RFC 3556 bandwidth modifiers.

Knows: the G.107 (06/2015) E-model with its default parameters: the transmission rating
R = Ro - Is - Id - Ie,eff + A (§7.1), the delay impairment Id = Idte + Idle + Idd
(§7.3, talker echo with the default TELR of 65 dB, listener echo, and the absolute
delay term Idd for Ta > 100 ms), the effective equipment impairment
Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl) (§7.4), and R -> MOS (Annex B);
codec Ie and Bpl values from ITU-T G.113 Appendix I; RTP/RTCP bandwidth arithmetic
(RFC 3550 §6.2 and RFC 3556).
Must not know: sockets, SIP, the clock (``time`` is an argument) or how the counters
were gathered: the inputs are plain numbers, e.g. from ``RtpStream.statistics()``.

The E-model is a planning tool; a MOS from it is an estimate (G.107 §1: "not ... a
tool for measuring"), fine for trends and alarms, not for absolute claims.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from voipkit.sdp.model import Bandwidth

__all__ = [
    "CODEC_IMPAIRMENTS",
    "DEFAULT_R",
    "CodecImpairment",
    "StreamSnapshot",
    "as_kbps",
    "bandwidth_lines",
    "delay_impairment",
    "effective_equipment_impairment",
    "mos_from_r",
    "r_factor",
    "rtcp_bandwidth",
    "session_bandwidth",
    "statistics_document",
]


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    """E-model figures of one codec.

    Attributes:
        ie: equipment impairment factor (G.113 Appendix I, Table I.1).
        bpl: packet-loss robustness factor (G.113 Appendix I, Table I.3).
        lookahead: algorithmic delay beyond the frame itself, seconds.
        source: where the figures come from.
    """

    ie: float
    bpl: float
    lookahead: float
    source: str


_G711_PLC = CodecImpairment(0.0, 25.1, 0.0, "G.113 Appendix I: G.711 with PLC (Bpl 25.1)")
#: Keyed by ``CodecSpec.name``, lower case.
CODEC_IMPAIRMENTS: dict[str, CodecImpairment] = {
    # Our G.711 decoder conceals losses (G.711 Appendix I PLC); without PLC Bpl is 4.3.
    "pcmu": _G711_PLC,
    "pcma": _G711_PLC,
    "g723": CodecImpairment(15.0, 16.1, 0.0075, "G.113 Appendix I: G.723.1 6.3 kbit/s "
                                                "(Ie 15, Bpl 16.1); 7.5 ms look-ahead"),
    "g729": CodecImpairment(11.0, 19.0, 0.005, "G.113 Appendix I: G.729A+VAD (Ie 11, "
                                               "Bpl 19.0); 5 ms look-ahead"),
    "amr": CodecImpairment(5.0, 10.0, 0.005, "G.113 Appendix I: GSM-EFR (Ie 5, Bpl 10), "
                                             "bit-exact with the AMR 12.2 kbit/s mode"),
    # Wideband codecs have no narrowband G.113 figures (G.107.1 rates them on a
    # 129-point scale); on this scale they are taken as G.711 with PLC, a floor.
    "g722": CodecImpairment(0.0, 25.1, 0.0015, "assumed: G.711 with PLC figures "
                                               "(no narrowband G.113 entry)"),
    "opus": CodecImpairment(0.0, 25.1, 0.0065, "assumed: G.711 with PLC figures "
                                               "(no G.113 entry); 6.5 ms look-ahead"),
}

# G.107 Table 3 defaults: send/receive loudness, sidetone, echo and noise figures.
_SLR, _RLR, _LSTR, _DS = 8.0, 2.0, 18.0, 3.0
_TELR, _WEPL = 65.0, 110.0
_PS, _PR, _NC, _NFOR = 35.0, 35.0, -70.0, -64.0


def _basic_signal_to_noise() -> tuple[float, float]:
    """Ro and No from the G.107 defaults (§7.2, equations 7-2 to 7-8)."""
    nfo = _NFOR + _RLR
    pre = _PR + 10 * math.log10(1 + 10 ** ((10 - _LSTR) / 10))
    nor = _RLR - 121 + pre + 0.008 * (pre - 35) ** 2
    olr = _SLR + _RLR
    nos = _PS - _SLR - _DS - 100 + 0.004 * (_PS - olr - _DS - 14) ** 2
    no = 10 * math.log10(10 ** (_NC / 10) + 10 ** (nos / 10) + 10 ** (nor / 10)
                         + 10 ** (nfo / 10))
    return 15 - 1.5 * (_SLR + no), no


_RO, _NO = _basic_signal_to_noise()  # 94.77, -61.18
#: G.107 §7.2: the simultaneous impairment factor Is with the default values.
_IS = 1.41
#: R with every default and no delay: "R = 93.2" (G.107 §7.7).
DEFAULT_R = 93.2


def delay_impairment(one_way: float) -> float:
    """Id for a mouth-to-ear delay of ``one_way`` seconds (G.107 §7.3).

    With echo cancelled to the default TELR, the talker-echo delay T and the absolute
    delay Ta are the one-way delay and the listener-echo round trip Tr twice it.
    """
    t = max(0.0, one_way) * 1000
    roe = -1.5 * (_NO - _RLR)
    terv = _TELR - 40 * math.log10((1 + t / 10) / (1 + t / 150)) + 6 * math.exp(-0.3 * t * t)
    re = 80 + 2.5 * (terv - 14)
    idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-t))
    rle = 10.5 * (_WEPL + 7) * math.pow(2 * t + 1, -0.25)
    idle = (_RO - rle) / 2 + math.sqrt((_RO - rle) ** 2 / 4 + 169)
    idd = 0.0
    if t > 100:
        x = math.log2(t / 100)
        idd = 25 * ((1 + x**6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2)
    return idte + idle + idd


def effective_equipment_impairment(ie: float, bpl: float, loss: float,
                                   burst_ratio: float = 1.0) -> float:
    """Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl) (G.107 §7.4, eq. 7-29).

    Args:
        ie: the codec's equipment impairment.
        bpl: the codec's packet-loss robustness.
        loss: packet loss as a fraction 0..1 (Ppl is in percent).
        burst_ratio: 1 for random loss, above 1 for bursty loss.
    """
    ppl = 100 * min(1.0, max(0.0, loss))
    return ie + (95 - ie) * ppl / (ppl / burst_ratio + bpl)


def r_factor(*, delay: float, loss: float, impairment: CodecImpairment,
             burst_ratio: float = 1.0) -> float:
    """The transmission rating R = Ro - Is - Id - Ie,eff (G.107 §7.1, A = 0)."""
    return (_RO - _IS - delay_impairment(delay)
            - effective_equipment_impairment(impairment.ie, impairment.bpl, loss,
                                             burst_ratio))


def mos_from_r(r: float) -> float:
    """G.107 Annex B: MOS_CQE = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6, clamped."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


# -- the statistics document --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamSnapshot:
    """The counters of one stream at one time; seconds for every duration.

    ``remote_*`` come from the peer's RTCP report blocks about what we send (None
    before the first one); ``rtt`` is None until measured (RFC 3550 §6.4.1).
    """

    time: float
    codec: str
    ptime: float
    packets_sent: int
    bytes_sent: int
    packets_received: int
    bytes_received: int
    lost: int
    fraction_lost: float
    jitter: float
    rtt: float | None
    jitter_buffer_delay: float
    remote_lost: int | None = None
    remote_fraction_lost: float | None = None
    remote_jitter: float | None = None

    @classmethod
    def from_statistics(cls, stats: Mapping[str, object], *, ptime: float) -> StreamSnapshot:
        """From the mapping of ``RtpStream.statistics(now)`` (``*_ms`` keys in ms)."""

        def number(key: str) -> float:
            value = stats[key]
            if not isinstance(value, int | float):
                raise TypeError(f"statistics[{key!r}] is {value!r}, not a number")
            return float(value)

        def optional(key: str, scale: float = 1.0) -> float | None:
            return None if stats.get(key) is None else number(key) * scale

        remote_lost = optional("remote_lost")
        return cls(
            time=number("time"),
            codec=str(stats["codec"]),
            ptime=ptime,
            packets_sent=int(number("packets_sent")),
            bytes_sent=int(number("bytes_sent")),
            packets_received=int(number("packets_received")),
            bytes_received=int(number("bytes_received")),
            lost=int(number("lost")),
            fraction_lost=number("fraction_lost"),
            jitter=number("jitter_ms") / 1000,
            rtt=optional("rtt_ms", 1 / 1000),
            jitter_buffer_delay=number("jitter_buffer_delay_ms") / 1000,
            remote_lost=None if remote_lost is None else int(remote_lost),
            remote_fraction_lost=optional("remote_fraction_lost"),
            remote_jitter=optional("remote_jitter_ms", 1 / 1000),
        )


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _direction(codec: str, packets: int, octets: int, lost: int | None,
               fraction: float | None, jitter: float | None, rtt: float | None,
               delay: float, impairment: CodecImpairment | None,
               burst_ratio: float) -> dict[str, object]:
    r: float | None = None
    if impairment is not None and fraction is not None and packets > 0:
        r = r_factor(delay=delay, loss=fraction, impairment=impairment,
                     burst_ratio=burst_ratio)
    return {
        "codec": codec,
        "packets": packets,
        "bytes": octets,
        "lost": lost,
        "fraction_lost": None if fraction is None else round(fraction, 4),
        "jitter_ms": _ms(jitter),
        "rtt_ms": _ms(rtt),
        "delay_ms": _ms(delay),
        "r_factor": None if r is None else round(r, 2),
        "mos": None if r is None else round(mos_from_r(r), 2),
    }


def statistics_document(snapshot: StreamSnapshot, *, burst_ratio: float = 1.0,
                        impairment: CodecImpairment | None = None) -> dict[str, object]:
    """The JSON-serialisable statistics of one stream, per direction.

    Mouth-to-ear delay is estimated as RTT/2 (0 until measured) + the jitter buffer's
    delay + one packet of audio (packetization) + the codec's look-ahead; the send
    direction assumes the peer buffers as much as we do. The send direction's loss
    and jitter are the peer's last report (None, and no MOS, before one arrives).
    ``r_factor``/``mos`` are None for a codec without E-model figures (pass
    ``impairment``) or a direction with no packets.

    Returns:
        ``{"time", "codec", "e_model", "send": {...}, "receive": {...}}``; each
        direction has codec, packets, bytes, lost, fraction_lost (0..1), jitter_ms,
        rtt_ms, delay_ms, r_factor and mos.
    """
    if impairment is None:
        impairment = CODEC_IMPAIRMENTS.get(snapshot.codec.lower())
    s = snapshot
    lookahead = impairment.lookahead if impairment is not None else 0.0
    delay = (s.rtt or 0.0) / 2 + s.jitter_buffer_delay + s.ptime + lookahead
    return {
        "time": s.time,
        "codec": s.codec,
        "e_model": None if impairment is None else impairment.source,
        "send": _direction(s.codec, s.packets_sent, s.bytes_sent, s.remote_lost,
                           s.remote_fraction_lost, s.remote_jitter, s.rtt, delay,
                           impairment, burst_ratio),
        "receive": _direction(s.codec, s.packets_received, s.bytes_received, s.lost,
                              s.fraction_lost, s.jitter, s.rtt, delay, impairment,
                              burst_ratio),
    }


# -- bandwidth (RFC 3550 §6.2, RFC 3556) ------------------------------------------------------

_RTP_UDP = 12 + 8
_IP = {4: 20, 6: 40}


def session_bandwidth(bitrate: float, ptime: float, *, ip_version: int = 4,
                      srtp_tag: int = 0) -> int:
    """Bits per second of one direction of an RTP stream, IP/UDP/RTP headers included.

    RFC 3550 §6.2: the session bandwidth "includes lower-layer transport and network
    protocols (e.g., UDP and IP)". G.711 at 20 ms over IPv4: 64000 + 50 * 40 * 8 = 80000.

    Args:
        bitrate: the codec's payload bit rate.
        ptime: seconds per packet.
        ip_version: 4 or 6.
        srtp_tag: bytes SRTP adds per packet (10, 4 or 16; ``SrtpSuite.rtp_tag``).
    """
    if ip_version not in _IP:
        raise ValueError(f"IP version {ip_version} is not 4 or 6")
    if not ptime > 0 or bitrate < 0:
        raise ValueError("ptime must be positive and bitrate not negative")
    overhead = (_IP[ip_version] + _RTP_UDP + srtp_tag) * 8 / ptime
    return math.ceil(bitrate + overhead - 1e-9)


def as_kbps(bits_per_second: float) -> int:
    """``b=AS`` is in kilobits per second, rounded up (RFC 8866 §5.8)."""
    return math.ceil(bits_per_second / 1000 - 1e-9)


def rtcp_bandwidth(session_bps: float) -> tuple[int, int]:
    """(RS, RR) in bits per second: 1.25% and 3.75% of the session bandwidth.

    RFC 3550 §6.2: RTCP gets 5% of the session bandwidth, a quarter of it for senders;
    RFC 3556 §2 expresses those as b=RS and b=RR.
    """
    return round(session_bps * 0.0125), round(session_bps * 0.0375)


def bandwidth_lines(*, as_kbps: int | None = None, rs: int | None = None,
                    rr: int | None = None) -> list[Bandwidth]:
    """b= lines for the manual's ``setAudioRtcpBandwidth(BitsRR, BitsRS, KBitsAS)``.

    ``rs``/``rr`` are bits per second (RFC 3556 §2; 0 for both turns RTCP off, §3),
    ``as_kbps`` kilobits per second. None leaves a line out.

    Raises:
        ValueError: a negative value.
    """
    lines: list[Bandwidth] = []
    for bwtype, value in (("AS", as_kbps), ("RS", rs), ("RR", rr)):
        if value is None:
            continue
        if value < 0:
            raise ValueError(f"b={bwtype} of {value} is negative")
        lines.append(Bandwidth(bwtype, value))
    return lines
