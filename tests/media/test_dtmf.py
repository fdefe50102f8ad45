"""RFC 4733 telephone-events: payload codec, sender pacing, receiver de-duplication.

Proves:
- the 4-byte payload encodes and decodes (golden bytes; R bit ignored; range checks);
- characters 0-9 * # A-D ! map to events 0-16 and back, case-insensitively;
- the sender emits a marker start packet, updates every ptime with growing duration and
  one timestamp, then exactly three end packets with the final duration, then a gap;
- an event shorter than one ptime still has a start and three end packets;
- a long event is split into segments 0xFFFF apart, later segments without marker;
- the receiver reports each digit once, on the first packet it sees of an event: with
  every packet, with the start lost, with only end packets, with late retransmissions
  of an earlier event, across long-event segments, and for a repeated digit;
- sender -> receiver round trip for a digit string.
"""

from __future__ import annotations

import pytest

from voipkit.media.dtmf import (
    DTMF_CHARS,
    DtmfDigit,
    DtmfPacket,
    DtmfReceiver,
    DtmfSender,
    TelephoneEvent,
    char_from_event,
    event_from_char,
)


def test_payload_golden_bytes() -> None:
    event = TelephoneEvent(event=11, end=True, volume=10, duration=800)
    assert event.encode() == b"\x0b\x8a\x03\x20"
    assert TelephoneEvent.decode(b"\x0b\x8a\x03\x20") == event
    assert TelephoneEvent.decode(b"\x05\x4a\x00\xa0") == TelephoneEvent(5, False, 10, 160)  # R bit


@pytest.mark.parametrize(
    "event",
    [TelephoneEvent(256), TelephoneEvent(1, volume=64), TelephoneEvent(1, duration=0x10000)],
)
def test_payload_range_checks(event: TelephoneEvent) -> None:
    with pytest.raises(ValueError):
        event.encode()


def test_short_payload_is_rejected() -> None:
    with pytest.raises(ValueError, match="telephone-event payload is 3 bytes, not 4"):
        TelephoneEvent.decode(b"\x01\x02\x03")


def test_character_mapping() -> None:
    assert [event_from_char(c) for c in "0123456789*#ABCD!"] == list(range(17))
    assert event_from_char("a") == 12
    assert "".join(char_from_event(e) for e in range(17)) == DTMF_CHARS
    for bad in ("E", "", "12"):
        with pytest.raises(ValueError):
            event_from_char(bad)
    with pytest.raises(ValueError):
        char_from_event(17)


def decoded(packets: list[DtmfPacket | None]) -> list[tuple[int, bool, int, bool, int] | None]:
    out: list[tuple[int, bool, int, bool, int] | None] = []
    for p in packets:
        if p is None:
            out.append(None)
        else:
            te = TelephoneEvent.decode(p.payload)
            out.append((te.event, te.end, te.duration, p.marker, p.timestamp_offset))
    return out


def test_sender_paces_one_event() -> None:
    sender = DtmfSender(clock_rate=8000, ptime=0.02, gap=0.04)
    sender.send("5", duration=0.1, volume=7)
    assert sender.busy
    ticks = [sender.next_packet() for _ in range(10)]
    assert decoded(ticks) == [
        (5, False, 160, True, 0),
        (5, False, 320, False, 0),
        (5, False, 480, False, 0),
        (5, False, 640, False, 0),
        (5, True, 800, False, 0),
        (5, True, 800, False, 0),
        (5, True, 800, False, 0),
        None,  # 40 ms gap
        None,
        None,  # idle
    ]
    first = ticks[0]
    assert first is not None and first.start
    assert TelephoneEvent.decode(first.payload).volume == 7
    assert not sender.busy


def test_event_shorter_than_ptime() -> None:
    sender = DtmfSender(ptime=0.02, gap=0.0)
    sender.send(16, duration=0.01)
    assert decoded([sender.next_packet() for _ in range(5)]) == [
        (16, False, 80, True, 0),
        (16, True, 80, False, 0),
        (16, True, 80, False, 0),
        (16, True, 80, False, 0),
        None,
    ]


def test_long_event_is_split_into_segments() -> None:
    sender = DtmfSender(ptime=0.02, gap=0.0)
    sender.send("#", duration=10.0)  # 80000 samples > 0xFFFF
    ticks = []
    while (packet := sender.next_packet()) is not None:
        ticks.append(packet)
    info = decoded(list(ticks))
    assert info[408] == (11, False, 65440, False, 0)
    assert info[409] == (11, False, 65600 - 65535, False, 65535)  # new segment, no marker
    assert info[-4] == (11, False, 80000 - 160 - 65535, False, 65535)
    assert info[-3:] == [(11, True, 80000 - 65535, False, 65535)] * 3
    assert len(ticks) == 500 + 2


def test_sender_rejects_bad_input() -> None:
    sender = DtmfSender()
    with pytest.raises(ValueError):
        sender.send("X")
    with pytest.raises(ValueError):
        sender.send(17)
    with pytest.raises(ValueError):
        sender.send("1", volume=64)
    with pytest.raises(ValueError):
        sender.send("1", duration=0.0)
    with pytest.raises(ValueError):
        DtmfSender(ptime=0.0)
    assert not sender.busy


def send_all(sender: DtmfSender, start_timestamp: int = 1000) -> list[tuple[bytes, int, bool]]:
    """Run the sender as a stream would: 160 timestamp units per tick."""
    out: list[tuple[bytes, int, bool]] = []
    timestamp = start_timestamp
    event_timestamp = timestamp
    while sender.busy:
        packet = sender.next_packet()
        if packet is not None:
            if packet.start:
                event_timestamp = timestamp
            out.append((packet.payload, event_timestamp + packet.timestamp_offset, packet.marker))
        timestamp += 160
    return out


def receive_all(receiver: DtmfReceiver, packets: list[tuple[bytes, int, bool]]) -> str:
    digits = [receiver.receive(p, ts, marker=m) for p, ts, m in packets]
    return "".join(d.char for d in digits if d is not None)


def test_round_trip_of_a_digit_string() -> None:
    sender = DtmfSender()
    sender.send_digits("123#*0Ad", duration=0.08)
    assert receive_all(DtmfReceiver(), send_all(sender)) == "123#*0AD"


def test_receiver_reports_on_the_first_packet() -> None:
    sender = DtmfSender()
    sender.send("7")
    packets = send_all(sender, start_timestamp=5000)
    receiver = DtmfReceiver()
    first = receiver.receive(packets[0][0], packets[0][1], marker=True)
    assert first == DtmfDigit(event=7, char="7", volume=10, timestamp=5000)
    assert all(receiver.receive(p, ts, marker=m) is None for p, ts, m in packets[1:])
    assert receiver.last_duration == 800


def test_receiver_with_the_start_packet_lost() -> None:
    sender = DtmfSender()
    sender.send("9")
    packets = send_all(sender)
    assert receive_all(DtmfReceiver(), packets[1:]) == "9"


def test_receiver_with_only_end_packets() -> None:
    sender = DtmfSender()
    sender.send("B")
    packets = send_all(sender)
    assert receive_all(DtmfReceiver(), packets[-3:]) == "B"


def test_repeated_digit_is_reported_twice() -> None:
    sender = DtmfSender()
    sender.send_digits("55")
    assert receive_all(DtmfReceiver(), send_all(sender)) == "55"


def test_late_retransmission_of_an_earlier_event_is_ignored() -> None:
    sender = DtmfSender()
    sender.send_digits("12")
    packets = send_all(sender)
    late_end_of_1 = packets[6]
    reordered = packets[:5] + packets[7:9] + [late_end_of_1] + packets[9:]
    assert receive_all(DtmfReceiver(), reordered) == "12"


def test_long_event_segments_are_one_digit() -> None:
    sender = DtmfSender()
    sender.send("0", duration=10.0)
    packets = send_all(sender)
    assert len({ts for _, ts, _ in packets}) == 2
    assert receive_all(DtmfReceiver(), packets) == "0"
    # even when the whole first segment is lost, the digit arrives once
    assert receive_all(DtmfReceiver(), packets[420:]) == "0"
