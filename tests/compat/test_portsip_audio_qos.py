"""enableAudioQos: DSCP 46 (EF) on the RTP and RTCP sockets of calls opened afterwards.

Proves, through the facade between two PortSIPLib instances on 127.0.0.1: with
``enableAudioQos(True)`` the caller's call sockets carry TOS 0xB8 (DSCP 46 << 2) while
the callee, which did not ask, leaves them at 0; after ``enableAudioQos(False)`` the
caller's next call is unmarked again. The marking is read back with getsockopt.
"""

from __future__ import annotations

import socket

from tests.compat.test_portsip_audio import Pair, _connect, _on_loop

from voipkit.compat.portsip import PortSIPLib


def _tos(lib: PortSIPLib, sid: int) -> tuple[int, int]:
    phone = lib.phone
    assert phone is not None

    def read() -> tuple[int, int]:
        call = phone.call_by_id(sid)
        assert call is not None and call.audio is not None
        pair = call.audio.sockets
        return (pair.rtp_socket.getsockopt(socket.IPPROTO_IP, socket.IP_TOS),
                pair.rtcp_socket.getsockopt(socket.IPPROTO_IP, socket.IP_TOS))

    return _on_loop(lib, read)


def test_enable_audio_qos_marks_new_calls_with_dscp_46(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    assert alice.enableAudioQos(True) == 0
    sid, bob_sid = _connect(alice, alice_events, bob, bob_events)
    assert _tos(alice, sid) == (46 << 2, 46 << 2)
    assert _tos(bob, bob_sid) == (0, 0)
    assert alice.hangUp(sid) == 0
    bob_events.wait("onInviteClosed", lambda a: a == (bob_sid,))

    assert alice.enableAudioQos(False) == 0
    sid, bob_sid = _connect(alice, alice_events, bob, bob_events)
    assert _tos(alice, sid) == (0, 0)
    assert alice.hangUp(sid) == 0
