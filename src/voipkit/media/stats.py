"""RTP reception and transmission statistics (RFC 3550 A.1, A.3, A.8, §6.4).

Knows: sequence-number validation with probation and 16-bit wrap cycles
(A.1), expected / lost / fraction-lost per report interval (A.3), the
interarrival jitter estimator (A.8), LSR/DLSR bookkeeping and the sender
counters of a sender report (§6.4.1).
Must not know: sockets, packets on the wire beyond their numbers, or the
clock: every arrival and ``now`` is an argument (seconds, one monotonic
timeline), and wallclock time for NTP fields is an argument too.
"""

from __future__ import annotations

from collections.abc import Sequence

from voipkit.media.rtcp import ReportBlock, RtcpSrPacket, ntp_from_seconds, ntp_middle32

__all__ = ["MAX_DROPOUT", "MAX_MISORDER", "MIN_SEQUENTIAL", "ReceiverStats", "SenderStats"]

RTP_SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000  # RFC 3550 A.1
MAX_MISORDER = 100
MIN_SEQUENTIAL = 2


def _signed32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


class ReceiverStats:
    """What we know about one remote source, fed one packet at a time.

    Follows RFC 3550 A.1 literally: a new source is on probation until
    ``min_sequential`` packets arrive in sequence; the packets during
    probation are not counted, and the count (and ``base_seq``) starts with
    the packet that ends probation. ``min_sequential=0`` accepts the first
    packet at once.

    Args:
        ssrc: the source described by the report blocks.
        clock_rate: RTP clock, to turn arrival seconds into timestamp units.
        min_sequential: packets in sequence before a source is valid.
    """

    def __init__(self, *, ssrc: int, clock_rate: int, min_sequential: int = MIN_SEQUENTIAL) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self._min_sequential = min_sequential
        self._started = False
        self.probation = min_sequential
        self.max_seq = 0
        self.cycles = 0
        self.base_seq = 0
        self.bad_seq = RTP_SEQ_MOD + 1
        self.received = 0
        self._received_prior = 0
        self._expected_prior = 0
        self._jitter = 0.0
        self._last_arrival: float | None = None
        self._last_timestamp = 0
        self._last_sr: int | None = None  # middle 32 bits of the last SR's NTP time
        self._last_sr_arrival = 0.0

    # -- RFC 3550 A.1 -------------------------------------------------------------------

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = RTP_SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self._received_prior = 0
        self._expected_prior = 0

    def _update_seq(self, seq: int) -> bool:
        udelta = (seq - self.max_seq) & 0xFFFF
        if self.probation:
            # "Source is not valid until MIN_SEQUENTIAL packets with sequential
            # sequence numbers have been received."
            if seq == (self.max_seq + 1) & 0xFFFF:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self._init_seq(seq)
                    self.received += 1
                    return True
            else:
                self.probation = self._min_sequential - 1
                self.max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            # In order, with permissible gap.
            if seq < self.max_seq:
                self.cycles += RTP_SEQ_MOD  # sequence number wrapped: count another cycle
            self.max_seq = seq
        elif udelta <= RTP_SEQ_MOD - MAX_MISORDER:
            # The sequence number made a very large jump.
            if seq == self.bad_seq:
                # Two sequential packets: assume the other side restarted without
                # telling us, so just re-sync.
                self._init_seq(seq)
            else:
                self.bad_seq = (seq + 1) & 0xFFFF
                return False
        # else: duplicate or reordered packet, counted (RFC 3550 A.1)
        self.received += 1
        return True

    def receive(self, sequence_number: int, timestamp: int, *, arrival: float) -> bool:
        """Account for one RTP packet from this source.

        Args:
            sequence_number: the packet's 16-bit sequence number.
            timestamp: the packet's 32-bit RTP timestamp.
            arrival: when it arrived, in seconds.

        Returns:
            True when the packet is valid (RFC 3550 A.1 ``update_seq`` returns 1);
            False during probation or after a large jump that is not yet confirmed.
        """
        if not self._started:
            self._started = True
            self._init_seq(sequence_number)
            if self._min_sequential == 0:
                self.received = 1
                self._update_jitter(timestamp, arrival)
                return True
            self.max_seq = (sequence_number - 1) & 0xFFFF
            self.probation = self._min_sequential
        valid = self._update_seq(sequence_number)
        if valid:
            self._update_jitter(timestamp, arrival)
        return valid

    # -- RFC 3550 A.8 -------------------------------------------------------------------

    def _update_jitter(self, timestamp: int, arrival: float) -> None:
        if self._last_arrival is not None:
            # D(i-1, i) = (Rj - Ri) - (Sj - Si), the timestamp difference taken
            # modulo 2**32 so a wrapping RTP timestamp is harmless.
            d = (arrival - self._last_arrival) * self.clock_rate - _signed32(
                timestamp - self._last_timestamp
            )
            # J(i) = J(i-1) + (|D(i-1,i)| - J(i-1))/16
            self._jitter += (abs(d) - self._jitter) / 16
        self._last_arrival = arrival
        self._last_timestamp = timestamp

    @property
    def jitter(self) -> float:
        """Interarrival jitter estimate in RTP timestamp units (RFC 3550 A.8)."""
        return self._jitter

    @property
    def jitter_seconds(self) -> float:
        """The same estimate in seconds."""
        return self._jitter / self.clock_rate

    # -- RFC 3550 A.3 -------------------------------------------------------------------

    @property
    def valid(self) -> bool:
        """True once the source has left probation."""
        return self._started and self.probation == 0

    @property
    def extended_max(self) -> int:
        """Highest sequence number received, extended with the wrap cycles."""
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        """Packets expected since ``base_seq`` (RFC 3550 A.3)."""
        if not self.valid:
            return 0
        return self.extended_max - self.base_seq + 1

    @property
    def cumulative_lost(self) -> int:
        """Expected minus received; negative when duplicates arrived (RFC 3550 A.3)."""
        return self.expected - self.received

    def record_sender_report(self, ntp_timestamp: int, *, arrival: float) -> None:
        """Remember an SR from this source for the LSR/DLSR fields (RFC 3550 §6.4.1)."""
        self._last_sr = ntp_middle32(ntp_timestamp)
        self._last_sr_arrival = arrival

    def report_block(self, *, now: float) -> ReportBlock:
        """The reception report for this source, closing the current interval.

        ``fraction_lost`` covers the packets since the previous call (RFC 3550
        A.3); calling this starts a new interval.
        """
        expected = self.expected
        expected_interval = expected - self._expected_prior
        self._expected_prior = expected
        received_interval = self.received - self._received_prior
        self._received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            fraction = 0
        else:
            fraction = (lost_interval << 8) // expected_interval
        lost = max(-0x80_0000, min(0x7F_FFFF, self.cumulative_lost))
        if self._last_sr is None:
            lsr = dlsr = 0
        else:
            lsr = self._last_sr
            dlsr = max(0, int((now - self._last_sr_arrival) * 65536)) & 0xFFFF_FFFF
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            packets_lost=lost,
            highest_sequence=self.extended_max & 0xFFFF_FFFF,
            jitter=int(self._jitter),
            lsr=lsr,
            dlsr=dlsr,
        )


class SenderStats:
    """Counters for the sender info of an SR (RFC 3550 §6.4.1).

    Args:
        clock_rate: RTP clock, to extrapolate the SR's RTP timestamp to ``now``.
    """

    def __init__(self, *, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self.packets_sent = 0
        self.octets_sent = 0
        self._last_timestamp: int | None = None
        self._last_sent_at = 0.0

    def sent(self, payload_octets: int, timestamp: int, *, now: float) -> None:
        """Count one RTP packet; octets are payload only, as §6.4.1 specifies."""
        self.packets_sent = (self.packets_sent + 1) & 0xFFFF_FFFF
        self.octets_sent = (self.octets_sent + payload_octets) & 0xFFFF_FFFF
        self._last_timestamp = timestamp
        self._last_sent_at = now

    def sender_report(
        self,
        ssrc: int,
        *,
        wallclock: float,
        reports: Sequence[ReportBlock] = (),
        now: float,
    ) -> RtcpSrPacket:
        """An SR for ``now``.

        RFC 3550 §6.4.1: the RTP timestamp "corresponds to the same time as the
        NTP timestamp", so it is extrapolated from the last packet sent.

        Args:
            ssrc: our SSRC.
            wallclock: Unix time at ``now``, for the NTP field.
            reports: reception report blocks to include.
            now: the monotonic time of the report.
        """
        if self._last_timestamp is None:
            rtp_timestamp = 0
        else:
            elapsed = round((now - self._last_sent_at) * self.clock_rate)
            rtp_timestamp = (self._last_timestamp + elapsed) & 0xFFFF_FFFF
        return RtcpSrPacket(
            ssrc=ssrc,
            ntp_timestamp=ntp_from_seconds(wallclock),
            rtp_timestamp=rtp_timestamp,
            packet_count=self.packets_sent,
            octet_count=self.octets_sent,
            reports=list(reports),
        )
