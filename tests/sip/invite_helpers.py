"""Two UsageManagers (alice calls, bob answers) on an InMemoryNetwork, for the invite tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from voipkit.base.ids import SequentialIds
from voipkit.sip.addressing import Destination, TransportKind
from voipkit.sip.auth import Credentials
from voipkit.sip.message import NameAddr
from voipkit.sip.timers import TimerConfig
from voipkit.sip.ua import CoreConfig
from voipkit.sip.usage.base import UsageEvent
from voipkit.sip.usage.invite import InvitePolicy, InviteSession, invite_factory
from voipkit.sip.usage.manager import ManagerEvent, UsageManager
from voipkit.sip.usage.prack import ReliableProvisional
from voipkit.sip.usage.session_timer import SessionTimerConfig
from voipkit.testing import InMemoryNetwork, make_core

ALICE_AT = Destination(TransportKind.UDP, "127.0.0.1", 5060)
BOB_AT = Destination(TransportKind.UDP, "127.0.0.2", 5060)
OFFER = b"v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\n"
ANSWER = b"v=0\r\no=bob 1 1 IN IP4 127.0.0.2\r\n"
CONFIG = CoreConfig(supported=frozenset({"100rel", "timer"}), timers=TimerConfig())


class FixedTokenIds(SequentialIds):
    """SequentialIds whose ``token`` always returns one value (to pin the glare back-off)."""

    def __init__(self, prefix: str, token_value: int) -> None:
        super().__init__(prefix)
        self._token_value = token_value

    def token(self, nbytes: int = 8) -> str:
        return f"{self._token_value:0{2 * nbytes}x}"


@dataclass
class Call:
    """The two phones and what each has emitted so far."""

    network: InMemoryNetwork
    alice: UsageManager
    bob: UsageManager
    bob_policy: InvitePolicy
    alice_events: list[ManagerEvent] = field(default_factory=list)
    bob_events: list[ManagerEvent] = field(default_factory=list)

    def pump(self) -> None:
        while (event := self.alice.next_event()) is not None:
            self.alice_events.append(event)
        while (event := self.bob.next_event()) is not None:
            self.bob_events.append(event)

    def settle(self) -> None:
        """Deliver everything in flight (firing timers due meanwhile), then collect events."""
        self.network.settle()
        self.pump()

    def run(self, until: float) -> None:
        self.network.run(until=until)
        self.pump()

    def of(self, side: str, kind: type[UsageEvent]) -> list[UsageEvent]:
        events = self.alice_events if side == "alice" else self.bob_events
        return [e for e in events if isinstance(e, kind)]

    def names(self, side: str) -> list[str]:
        events = self.alice_events if side == "alice" else self.bob_events
        return [type(e).__name__ for e in events]

    def bob_session(self) -> InviteSession:
        sessions = [u for u in self.bob.usages.values() if isinstance(u, InviteSession)]
        assert len(sessions) == 1, sessions
        return sessions[0]

    def dial(self, body: bytes | None = OFFER, *, credentials: Credentials | None = None,
             timer: SessionTimerConfig | None = None,
             reliable: ReliableProvisional = ReliableProvisional.NEVER) -> InviteSession:
        session = InviteSession.create_uac(
            self.alice, request_uri="sip:bob@127.0.0.2",
            from_=NameAddr.parse("Alice <sip:alice@example.com>"),
            to=NameAddr.parse("<sip:bob@example.com>"),
            contact=NameAddr.parse("<sip:alice@127.0.0.1:5060>"), targets=[BOB_AT],
            body=body, credentials=credentials, session_timer=timer, reliable=reliable,
            now=self.network.now)
        return session

    def sent(self, method_or_status: str) -> list[float]:
        """Times at which packets described as ``method_or_status`` were delivered."""
        return [p.sent_at for p in self.network.delivered if p.describe() == method_or_status]


def make_call(*, bob_policy: InvitePolicy | None = None, alice_token: int | None = None,
              bob_token: int | None = None, config: CoreConfig = CONFIG) -> Call:
    policy = bob_policy or InvitePolicy(contact=NameAddr.parse("<sip:bob@127.0.0.2:5060>"))
    a_core = make_core(ALICE_AT, prefix="a", config=config)
    b_core = make_core(BOB_AT, prefix="b", config=config)
    a_ids = SequentialIds("am") if alice_token is None else FixedTokenIds("am", alice_token)
    b_ids = SequentialIds("bm") if bob_token is None else FixedTokenIds("bm", bob_token)
    alice = UsageManager(a_core, ids=a_ids)
    bob = UsageManager(b_core, ids=b_ids)
    bob.on_new_request("INVITE", invite_factory(policy))
    alice.on_new_request("INVITE", invite_factory(InvitePolicy(
        contact=NameAddr.parse("<sip:alice@127.0.0.1:5060>"))))
    network = InMemoryNetwork()
    network.attach(alice, ALICE_AT)
    network.attach(bob, BOB_AT)
    return Call(network, alice, bob, policy)


def connect(call: Call, *, timer: SessionTimerConfig | None = None) -> InviteSession:
    """alice calls with OFFER, bob answers with ANSWER; returns alice's session."""
    session = call.dial(timer=timer)
    call.settle()
    call.bob_session().accept(ANSWER, now=call.network.now)
    call.settle()
    return session
