"""STUN Binding: the codec matches RFC 5769, and the client works against a loopback server.

Proves:
- the RFC 5769 §2.1 request and §2.2/§2.3 responses decode (transaction id, SOFTWARE,
  XOR-MAPPED-ADDRESS for IPv4 and IPv6) and their FINGERPRINTs check; our encoder
  produces the same XOR-MAPPED-ADDRESS bytes and FINGERPRINT;
- message types interleave method and class bits (RFC 5389 §6); ERROR-CODE, legacy
  MAPPED-ADDRESS and unknown comprehension-optional attributes are handled;
- malformed input (short, bad cookie, bad length, overrun, bad/misplaced FINGERPRINT)
  raises StunError, a ValueError; is_stun separates STUN from SIP and CRLF keep-alives;
- transaction ids come from an injected IdSource;
- stun_binding against a tiny 127.0.0.1 server returns the socket's own address, with a
  fresh socket, an existing socket and its fd; a dropped first request is retransmitted
  after RTO; no answer ends in StunTimeoutError (a TransportError) naming the server after
  exactly Rc requests; an error response raises StunServerError;
- StunClient.attach shares a SipTransports UDP socket: STUN is taken out, SIP still
  reaches on_receive, and incoming Binding requests are answered.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import struct
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, cast

import pytest

from voipkit.aio.errors import TransportError
from voipkit.aio.sip_transport import SipTransports
from voipkit.aio.stun import (
    StunClient,
    StunServerError,
    StunTimeoutError,
    retransmit_waits,
    stun_binding,
)
from voipkit.aio.stun_message import (
    BINDING,
    MAPPED_ADDRESS,
    SOFTWARE,
    XOR_MAPPED_ADDRESS,
    StunAttribute,
    StunClass,
    StunError,
    StunMessage,
    binding_request,
    binding_response,
    encode_address,
    error_response,
    fingerprint,
    is_stun,
    message_type,
    new_transaction_id,
    split_message_type,
)
from voipkit.base.ids import SequentialIds
from voipkit.sip.addressing import Address, TransportKind

TID = bytes.fromhex("b7e7a701bc34d686fa87dfae")

# RFC 5769 §2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
# MESSAGE-INTEGRITY, FINGERPRINT).
RFC5769_REQUEST = bytes.fromhex(
    "000100582112a442b7e7a701bc34d686fa87dfae"
    "802200105354554e20746573742063 6c69656e74"
    "002400046e0001ff"
    "80290008932ff9b151263b36"
    "000600096576746a3a683676592020 20"
    "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004e57a3bcf".replace(" ", "")
)
# RFC 5769 §2.2: sample IPv4 response, mapped address 192.0.2.1:32853.
RFC5769_IPV4_RESPONSE = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96"
)
# RFC 5769 §2.3: sample IPv6 response, mapped address [2001:db8:1234:5678:11:2233:4455:6677]:32853.
RFC5769_IPV6_RESPONSE = bytes.fromhex(
    "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c"
)


# -- codec -----------------------------------------------------------------------------


def test_rfc5769_sample_request_decodes_and_fingerprint_checks() -> None:
    msg = StunMessage.decode(RFC5769_REQUEST)
    assert (msg.method, msg.cls, msg.transaction_id) == (BINDING, StunClass.REQUEST, TID)
    assert msg.software == "STUN test client"
    assert [a.type for a in msg.attributes] == [0x8022, 0x0024, 0x8029, 0x0006, 0x0008]
    assert msg.get(0x0006) == b"evtj:h6vY"
    assert int.from_bytes(RFC5769_REQUEST[-4:], "big") == fingerprint(RFC5769_REQUEST[:-8])


@pytest.mark.parametrize(
    ("vector", "mapped"),
    [
        (RFC5769_IPV4_RESPONSE, ("192.0.2.1", 32853)),
        (RFC5769_IPV6_RESPONSE, ("2001:db8:1234:5678:11:2233:4455:6677", 32853)),
    ],
)
def test_rfc5769_sample_responses_decode(vector: bytes, mapped: Address) -> None:
    msg = StunMessage.decode(vector)
    assert (msg.method, msg.cls, msg.transaction_id) == (BINDING, StunClass.SUCCESS, TID)
    assert msg.software == "test vector"
    assert msg.xor_mapped_address == mapped
    assert msg.reflexive_address == mapped
    assert msg.unknown_required() == []
    # our encoder produces the vector's XOR-MAPPED-ADDRESS value and FINGERPRINT
    assert encode_address(*mapped, xor_with=TID) == msg.get(XOR_MAPPED_ADDRESS)
    assert fingerprint(vector[:-8]).to_bytes(4, "big") == vector[-4:]


def test_reencoding_the_vector_attributes_gives_the_vector_bytes() -> None:
    msg = StunMessage.decode(RFC5769_IPV4_RESPONSE)
    # SOFTWARE is padded with a space in the RFC, we pad with zero: compare up to it
    encoded = msg.encode()
    assert len(encoded) == len(RFC5769_IPV4_RESPONSE)
    assert encoded[:20 + 4 + 11] == RFC5769_IPV4_RESPONSE[:20 + 4 + 11]
    assert encoded[36:-8] == RFC5769_IPV4_RESPONSE[36:-8]
    assert StunMessage.decode(encoded) == msg


@pytest.mark.parametrize(
    ("method", "cls", "value"),
    [
        (BINDING, StunClass.REQUEST, 0x0001),
        (BINDING, StunClass.INDICATION, 0x0011),
        (BINDING, StunClass.SUCCESS, 0x0101),
        (BINDING, StunClass.ERROR, 0x0111),
        (0x003, StunClass.REQUEST, 0x0003),  # TURN Allocate
        (0xFFF, StunClass.ERROR, 0x3FFF),
    ],
)
def test_message_type_interleaves_method_and_class(
    method: int, cls: StunClass, value: int
) -> None:
    assert message_type(method, cls) == value
    assert split_message_type(value) == (method, cls)


def test_binding_request_with_software_round_trips() -> None:
    data = binding_request(TID, software="voipkit")
    assert data[:2] == b"\x00\x01" and is_stun(data)
    msg = StunMessage.decode(data)
    assert msg.software == "voipkit"
    assert msg.attributes == (StunAttribute(SOFTWARE, b"voipkit"),)
    assert len(binding_request(TID, with_fingerprint=False)) == 20


def test_error_code_is_parsed() -> None:
    msg = StunMessage.decode(error_response(TID, 420, "Unknown Attribute"))
    assert msg.cls is StunClass.ERROR
    assert msg.error == (420, "Unknown Attribute")


def test_legacy_mapped_address_is_read_when_no_xor_form() -> None:
    attrs = (StunAttribute(MAPPED_ADDRESS, encode_address("198.51.100.7", 4000, xor_with=None)),)
    msg = StunMessage.decode(StunMessage(BINDING, StunClass.SUCCESS, TID, attrs).encode())
    assert msg.xor_mapped_address is None
    assert msg.reflexive_address == ("198.51.100.7", 4000)


def test_unknown_optional_attribute_is_skipped_and_required_one_reported() -> None:
    attrs = (
        StunAttribute(0xC001, b"\x01\x02\x03"),
        StunAttribute(XOR_MAPPED_ADDRESS, encode_address("127.0.0.1", 5060, xor_with=TID)),
    )
    msg = StunMessage.decode(StunMessage(BINDING, StunClass.SUCCESS, TID, attrs).encode())
    assert msg.xor_mapped_address == ("127.0.0.1", 5060)
    assert msg.unknown_required() == []
    odd = StunMessage(BINDING, StunClass.SUCCESS, TID, (StunAttribute(0x7F00, b""),)).encode()
    assert StunMessage.decode(odd).unknown_required() == [0x7F00]


def _with_length(data: bytes, length: int) -> bytes:
    return data[:2] + struct.pack("!H", length) + data[4:]


def _attribute_after_fingerprint() -> bytes:
    """A valid FINGERPRINT (over a header that counts the trailing attribute too), then more."""
    head = _with_length(binding_request(TID, with_fingerprint=False), 12)
    fp = struct.pack("!HHI", 0x8028, 4, fingerprint(head))
    return head + fp + b"\x80\x22\x00\x00"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (RFC5769_IPV4_RESPONSE[:19], "shorter than"),
        (b"\x40" + RFC5769_IPV4_RESPONSE[1:], "top bits"),
        (RFC5769_IPV4_RESPONSE[:4] + b"\x21\x12\xa4\x43" + RFC5769_IPV4_RESPONSE[8:], "cookie"),
        (_with_length(RFC5769_IPV4_RESPONSE, 0x3E), "multiple of 4"),
        (RFC5769_IPV4_RESPONSE[:-4], "header says"),
        (RFC5769_IPV4_RESPONSE[:-1] + b"\x97", "FINGERPRINT mismatch"),
        (_with_length(RFC5769_IPV4_RESPONSE[:20], 4) + b"\x80\x22\x00\x08", "runs past"),
        (_attribute_after_fingerprint(), "after FINGERPRINT"),
    ],
)
def test_malformed_input_raises_stun_error(data: bytes, words: str) -> None:
    with pytest.raises(StunError, match=words) as info:
        StunMessage.decode(data)
    assert isinstance(info.value, ValueError)


def test_bad_address_family_raises() -> None:
    attrs = (StunAttribute(XOR_MAPPED_ADDRESS, b"\x00\x03\x00\x00\x00\x00\x00\x00"),)
    msg = StunMessage.decode(StunMessage(BINDING, StunClass.SUCCESS, TID, attrs).encode())
    with pytest.raises(StunError, match="family"):
        _ = msg.xor_mapped_address


def test_is_stun_separates_stun_from_sip_and_keepalives() -> None:
    assert is_stun(RFC5769_REQUEST) and is_stun(RFC5769_IPV6_RESPONSE)
    assert not is_stun(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n")
    assert not is_stun(b"\r\n\r\n")
    assert not is_stun(b"\x80\x00" + bytes(18))  # RTP
    assert not is_stun(RFC5769_REQUEST[:-4])


def test_transaction_id_comes_from_the_id_source() -> None:
    assert new_transaction_id(SequentialIds()) == (1).to_bytes(12, "big")
    assert len(new_transaction_id()) == 12


def test_retransmission_schedule_is_rfc5389_default() -> None:
    waits = retransmit_waits()
    assert waits == [0.5, 1, 2, 4, 8, 16, 8]
    assert sum(waits) == 39.5


def run(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body on a fresh event loop."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper


# -- client against a loopback server --------------------------------------------------


def has_ipv6_loopback() -> bool:
    path = Path("/proc/net/if_inet6")
    lines = path.read_text().splitlines() if path.exists() else []
    return any(line.split()[:1] == ["0" * 31 + "1"] for line in lines)


class TinyStunServer(asyncio.DatagramProtocol):
    """Answers Binding requests with XOR-MAPPED-ADDRESS = source; can drop or refuse."""

    def __init__(self, *, drop_first: int = 0, error: tuple[int, str] | None = None) -> None:
        self.drop_first = drop_first
        self.error = error
        self.requests: list[tuple[float, bytes, Address]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.address: Address = ("", 0)

    async def start(self, host: str = "127.0.0.1") -> TinyStunServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, 0))
        self.address = transport.get_extra_info("sockname")[:2]
        return self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        msg = StunMessage.decode(data)
        source = (str(addr[0]), int(addr[1]))
        self.requests.append((asyncio.get_running_loop().time(), msg.transaction_id, source))
        if len(self.requests) <= self.drop_first:
            return
        assert self.transport is not None
        if self.error is not None:
            self.transport.sendto(error_response(msg.transaction_id, *self.error), addr)
        else:
            self.transport.sendto(binding_response(msg.transaction_id, source), addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@run
async def test_binding_with_a_fresh_socket_returns_loopback() -> None:
    server = await TinyStunServer().start()
    try:
        ip, port = await stun_binding(server.address, local_ip="127.0.0.1", timeout=5)
    finally:
        server.close()
    assert ip == "127.0.0.1"
    assert port == server.requests[0][2][1] != 0


@run
async def test_binding_on_an_existing_socket_and_its_fd_returns_its_own_port() -> None:
    server = await TinyStunServer().start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        own = sock.getsockname()
        try:
            assert await stun_binding(server.address, sock=sock, timeout=5) == own
            assert await stun_binding(server.address, sock=sock.fileno(), timeout=5) == own
        finally:
            server.close()
        sock.getsockname()  # still open: the caller's socket is not closed


@run
async def test_binding_over_ipv6_loopback() -> None:
    if not has_ipv6_loopback():
        pytest.skip("this kernel has no ::1")
    server = await TinyStunServer().start("::1")
    try:
        ip, port = await stun_binding(server.address, local_ip="::1", timeout=5)
    finally:
        server.close()
    assert (ip, port) == ("::1", server.requests[0][2][1])


@run
async def test_a_dropped_first_request_is_retransmitted_after_rto() -> None:
    server = await TinyStunServer(drop_first=1).start()
    try:
        mapped = await stun_binding(server.address, local_ip="127.0.0.1", rto=0.05,
                                    ids=SequentialIds())
    finally:
        server.close()
    assert mapped[0] == "127.0.0.1"
    (t1, tid1, _), (t2, tid2, _) = server.requests
    assert tid1 == tid2 == (1).to_bytes(12, "big")  # a retransmission, same transaction
    assert t2 - t1 >= 0.045


@run
async def test_no_answer_times_out_naming_the_server_after_rc_requests() -> None:
    server = await TinyStunServer(drop_first=100).start()
    try:
        with pytest.raises(StunTimeoutError) as info:
            await stun_binding(server.address, local_ip="127.0.0.1", rto=0.01, rc=3, rm=4)
    finally:
        server.close()
    assert isinstance(info.value, TransportError)
    label = f"udp:127.0.0.1:{server.address[1]}"
    assert info.value.address == label and label in str(info.value)
    assert len(server.requests) == 3
    # sends at 0, 10 ms, 30 ms
    times = [t for t, _, _ in server.requests]
    assert times[2] - times[0] >= 0.029


@run
async def test_overall_timeout_cuts_the_schedule_short() -> None:
    server = await TinyStunServer(drop_first=100).start()
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        with pytest.raises(StunTimeoutError, match=r"within 0\.2 s"):
            await stun_binding(server.address, local_ip="127.0.0.1", timeout=0.2)
    finally:
        server.close()
    assert loop.time() - start < 1.0
    assert len(server.requests) == 1  # the first retransmission would be at 0.5 s


@run
async def test_error_response_raises_stun_server_error() -> None:
    server = await TinyStunServer(error=(400, "Bad Request")).start()
    try:
        with pytest.raises(StunServerError, match="400 Bad Request") as info:
            await stun_binding(server.address, local_ip="127.0.0.1", timeout=5)
    finally:
        server.close()
    assert info.value.code == 400 and isinstance(info.value, TransportError)


@run
async def test_client_shares_the_sip_udp_socket() -> None:
    server = await TinyStunServer().start()
    sip: list[tuple[bytes, Address, TransportKind]] = []
    async with SipTransports(on_receive=lambda *a: sip.append(a)) as transports:
        local = await transports.listen(TransportKind.UDP, "127.0.0.1")
        client = StunClient.attach(transports, software="voipkit-test")
        try:
            assert await client.binding(server.address, timeout=5) == local
        finally:
            server.close()
        assert sip == []  # the STUN response did not reach the SIP side
        # SIP still flows, and a Binding request from a peer is answered
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(("127.0.0.1", 0))
            peer.settimeout(5)
            peer_address = peer.getsockname()
            peer.sendto(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n", local)
            peer.sendto(binding_request(TID), local)
            data = await asyncio.get_running_loop().run_in_executor(None, peer.recv, 2048)
        answer = StunMessage.decode(data)
        assert answer.cls is StunClass.SUCCESS and answer.transaction_id == TID
        assert answer.xor_mapped_address == peer_address
        for _ in range(100):
            if sip:
                break
            await asyncio.sleep(0.01)
        assert [s[0][:7] for s in sip] == [b"OPTIONS"]
        assert client.counters["requests_answered"] == 1
