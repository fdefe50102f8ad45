"""ClientRegistration (RFC 3261 §10, RFC 5626 §4.2) hosted by a real UsageManager, against a
small sans-IO registrar on an InMemoryNetwork. Proves: every REGISTER of a binding shares the
Call-ID and From tag with CSeq +1 and a tagless To; Contact carries expires (and
+sip.instance/reg-id with Supported: outbound when an instance id is set); 401 and 407 are
answered with digest credentials the registrar's DigestServer accepts, a stale nonce is
retried and a wrong password fails; refreshes happen at exact deadlines with preemptive
credentials (nc incremented); 423 raises the interval to Min-Expires; Timer F, 503 with
Retry-After and other failures follow the retry policy (30 s doubling, retry_times, reset by
a 2xx) until FAILED; unregister sends Expires 0 and always ends with Unregistered; the granted
expiry comes from our own Contact among several; a contact change removes the old binding.
"""

from __future__ import annotations

import itertools
from collections import deque

import pytest

from voipkit.base import SequentialIds
from voipkit.sip.addressing import Address, Destination, Outgoing, TransportKind
from voipkit.sip.auth import Challenge, Credentials, DigestResponse, DigestServer, Qop, Verdict
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import RequestReceived
from voipkit.sip.message import NameAddr, Request, parse_message
from voipkit.sip.ua import DEFAULT_ALLOW, CoreConfig
from voipkit.sip.uri import SipUri
from voipkit.sip.usage import UsageManager
from voipkit.sip.usage.registration import (
    MAX_CHALLENGES,
    ClientRegistration,
    RegistrationConfig,
    RegistrationFailed,
    RegistrationState,
    RegistrationSucceeded,
    Unregistered,
    refresh_delay,
    retry_delay,
)
from voipkit.testing import InMemoryNetwork, is_request, make_core

UDP = TransportKind.UDP
PHONE = Destination(UDP, "192.0.2.10", 5060)
REGISTRAR = Destination(UDP, "192.0.2.1", 5060)
AOR = "sip:alice@example.com"
CONTACT = "sip:alice@192.0.2.10:5060"
REALM = "example.com"
UUID = "00000000-0000-1000-8000-000A95A0E128"


class Registrar:
    """A sans-IO registrar (RFC 3261 §10.3) that challenges with digest and keeps bindings.

    It checks credentials first (401 or 407, stale=true for a right digest on an
    old nonce), then expiry (423 below ``min_expires``), then stores the bindings
    and answers 200 listing every live binding of the AOR with its remaining
    ``expires``. ``script`` holds (status, headers) answers to send instead, in order.
    """

    def __init__(self, *, users: dict[str, str] | None = None, challenge: int = 401,
                 min_expires: int | None = None, max_expires: int = 3600,
                 nonce_lifetime: float = 300.0) -> None:
        self.core = make_core(REGISTRAR, prefix="r",
                              config=CoreConfig(allow=(*DEFAULT_ALLOW, "REGISTER")))
        self.users = {"alice": "secret"} if users is None else users
        self.challenge = challenge
        self.min_expires = min_expires
        self.max_expires = max_expires
        counter = itertools.count(1)
        self.digest = DigestServer(realm=REALM, nonce=lambda: f"nonce-{next(counter)}",
                                   qop=(Qop.AUTH,), nonce_lifetime=nonce_lifetime)
        self.bindings: dict[str, dict[str, tuple[NameAddr, float]]] = {}
        self.script: deque[tuple[int, list[tuple[str, str]]]] = deque()
        self.requests: list[Request] = []
        self.verdicts: list[Verdict] = []

    # --- the SansIoPeer surface the network drives ---
    def receive(self, data: bytes, source: Address, transport: TransportKind, *,
                now: float) -> None:
        self.core.receive(data, source, transport, now=now)
        self._drain(now=now)

    def datagrams_to_send(self) -> list[Outgoing]:
        return self.core.datagrams_to_send()

    def handle_timer(self, *, now: float) -> None:
        self.core.handle_timer(now=now)
        self._drain(now=now)

    def get_timer(self) -> float | None:
        return self.core.get_timer()

    # --- registrar logic ---
    def _drain(self, *, now: float) -> None:
        while (event := self.core.next_event()) is not None:
            if isinstance(event, RequestReceived) and event.request.method == "REGISTER":
                self._on_register(event.request, now=now)

    def _reply(self, request: Request, status: int, headers: list[tuple[str, str]],
               contacts: list[NameAddr] | None = None, *, now: float) -> None:
        response = self.core.create_response(request, status)
        for name, value in headers:
            response.headers.add(name, value)
        response.contact = contacts or []
        self.core.send_response(response, now=now)

    def _challenge_with(self, request: Request, *, now: float, stale: bool) -> None:
        name = "WWW-Authenticate" if self.challenge == 401 else "Proxy-Authenticate"
        values = [(name, str(c)) for c in self.digest.challenges(now=now, stale=stale)]
        self._reply(request, self.challenge, values, now=now)

    def _on_register(self, request: Request, *, now: float) -> None:
        self.requests.append(request)
        if self.script:
            status, headers = self.script.popleft()
            self._reply(request, status, headers, now=now)
            return
        name = "Authorization" if self.challenge == 401 else "Proxy-Authorization"
        value = request.headers.get(name)
        if value is None:
            self._challenge_with(request, now=now, stale=False)
            return
        answer = DigestResponse.parse(value)
        password = self.users.get(answer.username, "")
        verification = self.digest.verify(answer, Credentials(answer.username, password),
                                          method="REGISTER", now=now,
                                          request_uri=str(request.uri))
        self.verdicts.append(verification.verdict)
        if verification.verdict is not Verdict.ACCEPTED:
            self._challenge_with(request, now=now, stale=verification.verdict is Verdict.STALE)
            return
        table = self.bindings.setdefault(str(request.to.uri), {})
        wanted: list[tuple[NameAddr, int]] = []
        for contact in request.contact:
            raw = contact.params.get("expires")
            expires = int(raw) if raw is not None else (request.expires or 3600)
            if self.min_expires is not None and 0 < expires < self.min_expires:
                self._reply(request, 423, [("Min-Expires", str(self.min_expires))], now=now)
                return
            wanted.append((contact, expires))
        for contact, expires in wanted:
            kept = contact.copy()
            kept.params.pop("expires", None)
            if expires == 0:
                table.pop(str(contact.uri), None)
            else:
                table[str(contact.uri)] = (kept, now + min(expires, self.max_expires))
        listed = []
        for key, (contact, until) in list(table.items()):
            if until <= now:
                del table[key]
                continue
            shown = contact.copy()
            shown.params["expires"] = str(int(until - now))
            listed.append(shown)
        self._reply(request, 200, [], listed, now=now)


class Phone:
    """A UsageManager over a core at PHONE, hosting ClientRegistrations, on one network."""

    def __init__(self, registrar: Registrar, **changes: object) -> None:
        self.core = make_core(PHONE, prefix="p")
        self.manager = UsageManager(self.core, ids=SequentialIds("u"))
        self.registrar = registrar
        self.network = InMemoryNetwork()
        self.network.attach(self.manager, PHONE)
        self.network.attach(registrar, REGISTRAR)
        self.reg = self.new_registration(**changes)

    def new_registration(self, **changes: object) -> ClientRegistration:
        fields: dict[str, object] = {
            "aor": SipUri.parse(AOR),
            "registrar": SipUri.parse("sip:example.com"),
            "contact": SipUri.parse(CONTACT),
            "targets": (REGISTRAR,),
            "credentials": Credentials("alice", "secret"),
        }
        fields.update(changes)
        config = RegistrationConfig(**fields)  # type: ignore[arg-type]
        reg = ClientRegistration(self.manager, self.manager.new_usage_id(), config=config)
        self.manager.add(reg)
        return reg

    def run(self, until: float) -> list[object]:
        self.network.run(until=until)
        events: list[object] = []
        while (event := self.manager.next_event()) is not None:
            events.append(event)
        return events

    def registers(self, *, dropped: bool = False) -> list[tuple[float, Request]]:
        """(time sent, REGISTER as parsed from the wire bytes) in sending order."""
        packets = self.network.delivered + (self.network.dropped if dropped else [])
        found = [(p.sent_at, parse_message(p.data)) for p in packets
                 if is_request("REGISTER")(p)]
        found.sort(key=lambda pair: pair[0])
        return [(at, msg) for at, msg in found if isinstance(msg, Request)]


def kinds(events: list[object]) -> list[str]:
    return [type(e).__name__ for e in events]


# --- the first registration and its REGISTERs ------------------------------------------


def test_401_is_answered_and_the_binding_is_granted() -> None:
    phone = Phone(Registrar())
    phone.reg.register(now=0.0)
    events = phone.run(until=0.0)

    assert kinds(events) == ["RegistrationSucceeded"]
    ok = events[0]
    assert isinstance(ok, RegistrationSucceeded)
    assert (ok.usage_id, ok.status, ok.reason, ok.expires, ok.refreshed) == (
        phone.reg.id, 200, "OK", 3600, False)
    assert ok.response.status == 200
    assert phone.reg.state is RegistrationState.REGISTERED
    assert (phone.reg.expires, phone.reg.expires_at) == (3600, 3600.0)

    (t1, first), (t2, second) = phone.registers()
    assert (t1, t2) == (0.0, 0.0)
    assert str(first.uri) == "sip:example.com"
    assert first.call_id == second.call_id == phone.reg.call_id
    assert (first.cseq.seq, second.cseq.seq) == (1, 2)
    assert first.from_.tag is not None and first.from_.tag == second.from_.tag
    assert str(first.from_.uri) == str(first.to.uri) == AOR
    assert first.to.tag is None and second.to.tag is None
    assert [str(c) for c in first.contact] == [f"<{CONTACT}>;expires=3600"]
    assert first.expires == second.expires == 3600
    assert "Authorization" not in first.headers and "Supported" not in first.headers
    answer = DigestResponse.parse(second.headers.get("Authorization") or "")
    assert (answer.username, answer.realm, answer.uri, answer.nc) == (
        "alice", REALM, "sip:example.com", 1)
    assert phone.registrar.verdicts == [Verdict.ACCEPTED]
    assert list(phone.registrar.bindings[AOR]) == [CONTACT]


def test_407_is_answered_with_proxy_authorization() -> None:
    phone = Phone(Registrar(challenge=407))
    phone.reg.register(now=0.0)
    assert kinds(phone.run(until=0.0)) == ["RegistrationSucceeded"]
    (_, first), (_, second) = phone.registers()
    assert "Proxy-Authorization" not in first.headers
    assert "Proxy-Authorization" in second.headers and "Authorization" not in second.headers
    assert phone.registrar.verdicts == [Verdict.ACCEPTED]


def test_instance_id_adds_outbound_contact_parameters() -> None:
    phone = Phone(Registrar(), instance_id=UUID, user_agent="phone/1.0", display_name="Alice",
                  extra_headers=(("X-Tenant", "blue"),),
                  route=(NameAddr.parse("<sip:outbound.example.com;lr>"),))
    phone.reg.register(now=0.0)
    assert kinds(phone.run(until=0.0)) == ["RegistrationSucceeded"]
    for _, request in phone.registers():
        assert [str(c) for c in request.contact] == [
            f'<{CONTACT}>;reg-id=1;+sip.instance="<urn:uuid:{UUID}>";expires=3600']
        assert request.headers.getall("Supported") == ["outbound", "path"]
        assert request.headers.get("User-Agent") == "phone/1.0"
        assert request.headers.get("X-Tenant") == "blue"
        assert request.from_.display_name == request.to.display_name == "Alice"
        assert [str(r) for r in request.route] == ["<sip:outbound.example.com;lr>"]


# --- refreshes -------------------------------------------------------------------------


def test_refresh_deadline_policy() -> None:
    assert [refresh_delay(g) for g in (3600, 1800, 1201, 1200, 600, 60, 1)] == [
        3000.0, 1200.0, 601.0, 600.0, 300.0, 30.0, 0.5]
    assert [retry_delay(n) for n in (1, 2, 3, 6, 7, 20)] == [
        30.0, 60.0, 120.0, 960.0, 1800.0, 1800.0]


def test_refreshes_at_exact_deadlines_with_preemptive_credentials() -> None:
    phone = Phone(Registrar(nonce_lifetime=1e9))
    phone.reg.register(now=0.0)
    phone.run(until=0.0)
    assert kinds(phone.run(until=2999.0)) == []
    events = phone.run(until=3000.0)
    assert kinds(events) == ["RegistrationSucceeded"]
    ok = events[0]
    assert isinstance(ok, RegistrationSucceeded) and ok.refreshed
    assert phone.reg.expires_at == 6600.0
    assert kinds(phone.run(until=6000.0)) == ["RegistrationSucceeded"]

    sent = phone.registers()
    assert [at for at, _ in sent] == [0.0, 0.0, 3000.0, 6000.0]
    assert [r.cseq.seq for _, r in sent] == [1, 2, 3, 4]
    assert {r.call_id for _, r in sent} == {phone.reg.call_id}
    assert len({r.from_.tag for _, r in sent}) == 1
    ncs = [DigestResponse.parse(r.headers.get("Authorization") or "").nc for _, r in sent[1:]]
    assert ncs == [1, 2, 3]
    assert phone.registrar.verdicts == [Verdict.ACCEPTED] * 3


def test_registrar_granting_less_moves_the_refresh() -> None:
    phone = Phone(Registrar(max_expires=120, nonce_lifetime=1e9))
    phone.reg.register(now=0.0)
    events = phone.run(until=0.0)
    assert isinstance(events[0], RegistrationSucceeded) and events[0].expires == 120
    phone.run(until=120.0)
    assert [at for at, _ in phone.registers()] == [0.0, 0.0, 60.0, 120.0]


def test_stale_nonce_on_refresh_is_retried_with_the_new_nonce() -> None:
    phone = Phone(Registrar(nonce_lifetime=300.0))
    phone.reg.register(now=0.0)
    phone.run(until=0.0)
    events = phone.run(until=3000.0)
    assert kinds(events) == ["RegistrationSucceeded"]
    refresh, retried = [r for _, r in phone.registers()][2:]
    assert DigestResponse.parse(refresh.headers.get("Authorization") or "").nonce == "nonce-1"
    answer = DigestResponse.parse(retried.headers.get("Authorization") or "")
    assert (answer.nonce, answer.nc) == ("nonce-2", 1)
    assert phone.registrar.verdicts == [Verdict.ACCEPTED, Verdict.STALE, Verdict.ACCEPTED]
    assert retried.cseq.seq == refresh.cseq.seq + 1 == 4


# --- failures and the retry policy ------------------------------------------------------


def test_wrong_password_fails_retries_then_gives_up() -> None:
    phone = Phone(Registrar(users={"alice": "other"}), retry_times=2)
    phone.reg.register(now=0.0)
    events = phone.run(until=10_000.0)
    failed = [e for e in events if isinstance(e, RegistrationFailed)]
    assert kinds(events) == ["RegistrationFailed"] * 3
    assert [(e.status, e.retry_at) for e in failed] == [(401, 30.0), (401, 90.0), (401, None)]
    assert all(e.response is not None and e.response.status == 401 for e in failed)
    assert phone.reg.state is RegistrationState.FAILED
    # each attempt: a REGISTER, then one answer to the challenge; never a third try
    assert [at for at, _ in phone.registers()] == [0.0, 0.0, 30.0, 30.0, 90.0, 90.0]
    assert phone.registrar.verdicts == [Verdict.REJECTED] * 5


def test_retry_times_zero_reports_the_failure_at_once() -> None:
    phone = Phone(Registrar(users={}), retry_times=0)
    phone.reg.register(now=0.0)
    events = phone.run(until=10_000.0)
    assert len(events) == 1
    failed = events[0]
    assert isinstance(failed, RegistrationFailed)
    assert (failed.status, failed.reason, failed.retry_at) == (401, "Unauthorized", None)
    assert phone.reg.state is RegistrationState.FAILED
    assert len(phone.registers()) == 2


def test_challenge_without_credentials_is_a_failure() -> None:
    phone = Phone(Registrar(), credentials=None, retry_times=0)
    phone.reg.register(now=0.0)
    events = phone.run(until=0.0)
    assert [(type(e).__name__, getattr(e, "status", None)) for e in events] == [
        ("RegistrationFailed", 401)]
    assert len(phone.registers()) == 1


def test_423_retries_with_min_expires() -> None:
    phone = Phone(Registrar(min_expires=300, nonce_lifetime=1e9), expires=60)
    phone.reg.register(now=0.0)
    events = phone.run(until=0.0)
    assert kinds(events) == ["RegistrationSucceeded"]
    assert isinstance(events[0], RegistrationSucceeded) and events[0].expires == 300
    assert [r.expires for _, r in phone.registers()] == [60, 60, 300]
    assert phone.reg.requested_expires == 300
    phone.run(until=150.0)
    assert [(at, r.expires) for at, r in phone.registers()][3:] == [(150.0, 300)]


def test_timer_f_timeout_retries_after_the_back_off() -> None:
    phone = Phone(Registrar())
    phone.network.drop(is_request("REGISTER"), count=11)  # the request and its 10 resends
    phone.reg.register(now=0.0)
    assert phone.run(until=31.9) == []
    events = phone.run(until=32.0)
    assert len(events) == 1
    failed = events[0]
    assert isinstance(failed, RegistrationFailed)
    assert (failed.status, failed.response, failed.retry_at) == (None, None, 62.0)
    assert "timeout" in failed.reason
    assert phone.reg.state is RegistrationState.RETRY_WAIT
    assert kinds(phone.run(until=61.9)) == []
    assert kinds(phone.run(until=62.0)) == ["RegistrationSucceeded"]
    sent = phone.registers(dropped=True)
    assert [at for at, _ in sent][-3:] == [31.5, 62.0, 62.0]
    assert sent[-2][1].call_id == sent[0][1].call_id
    assert sent[-2][1].cseq.seq == 2  # retransmissions keep CSeq 1; the retry is a new request


def test_503_retry_after_is_honoured() -> None:
    registrar = Registrar()
    registrar.script.append((503, [("Retry-After", "120 (maintenance);duration=60")]))
    phone = Phone(registrar)
    phone.reg.register(now=0.0)
    events = phone.run(until=0.0)
    assert len(events) == 1
    failed = events[0]
    assert isinstance(failed, RegistrationFailed)
    assert (failed.status, failed.reason, failed.retry_at) == (503, "Service Unavailable", 120.0)
    assert kinds(phone.run(until=120.0)) == ["RegistrationSucceeded"]
    assert [at for at, _ in phone.registers()] == [0.0, 120.0, 120.0]


def test_a_2xx_resets_the_retry_count() -> None:
    registrar = Registrar(nonce_lifetime=1e9)
    registrar.script.append((500, []))
    phone = Phone(registrar, retry_times=1)
    phone.reg.register(now=0.0)
    first = phone.run(until=0.0)
    assert isinstance(first[0], RegistrationFailed) and first[0].retry_at == 30.0
    assert kinds(phone.run(until=30.0)) == ["RegistrationSucceeded"]
    assert phone.reg.failures == 0
    registrar.script.append((500, []))  # the refresh at 30 + 3000 fails once more
    assert phone.run(until=3029.0) == []
    events = phone.run(until=3030.0)
    assert isinstance(events[0], RegistrationFailed)
    assert events[0].retry_at == 3060.0  # retried again (count was reset), first back-off
    assert phone.reg.state is RegistrationState.RETRY_WAIT
    sent = phone.registers()
    refresh = sent[-1][1]
    assert DigestResponse.parse(refresh.headers.get("Authorization") or "").nc is not None
    events = phone.run(until=3060.0)
    ok = events[0]
    assert isinstance(ok, RegistrationSucceeded) and ok.refreshed  # binding still live


# --- unregistering -----------------------------------------------------------------------


def test_unregister_sends_expires_zero_and_finishes() -> None:
    phone = Phone(Registrar(nonce_lifetime=1e9))
    phone.reg.register(now=0.0)
    phone.run(until=10.0)
    phone.reg.unregister(now=10.0)
    assert phone.reg.state is RegistrationState.UNREGISTERING
    phone.reg.unregister(now=10.0)  # a second call while removing does nothing
    events = phone.run(until=10.0)
    assert len(events) == 1
    gone = events[0]
    assert isinstance(gone, Unregistered)
    assert (gone.usage_id, gone.status, gone.response is not None) == (phone.reg.id, 200, True)
    at, removal = phone.registers()[-1]
    assert at == 10.0
    assert [str(c) for c in removal.contact] == [f"<{CONTACT}>;expires=0"]
    assert removal.expires == 0 and removal.cseq.seq == 3
    assert removal.call_id == phone.reg.call_id
    assert "Authorization" in removal.headers
    assert phone.registrar.bindings[AOR] == {}
    assert phone.reg.state is RegistrationState.UNREGISTERED
    assert phone.reg.id not in phone.manager.usages
    phone.run(until=10_000.0)  # no refresh timer survives
    assert len(phone.registers()) == 3
    with pytest.raises(LocalProtocolError):
        phone.reg.register(now=10_000.0)
    with pytest.raises(LocalProtocolError):
        phone.reg.unregister(now=10_000.0)


def test_unregister_answers_a_challenge() -> None:
    phone = Phone(Registrar(nonce_lifetime=100.0))
    phone.reg.register(now=0.0)
    phone.run(until=500.0)
    phone.reg.unregister(now=500.0)  # the remembered nonce has expired: stale=true
    events = phone.run(until=500.0)
    assert [(type(e).__name__, getattr(e, "status", None)) for e in events] == [
        ("Unregistered", 200)]
    assert [r.expires for _, r in phone.registers()] == [3600, 3600, 0, 0]
    assert phone.registrar.bindings[AOR] == {}


def test_unregister_ends_even_when_the_registrar_is_silent() -> None:
    phone = Phone(Registrar())
    phone.reg.register(now=0.0)
    phone.run(until=0.0)
    phone.network.drop(is_request("REGISTER"), count=100)
    phone.run(until=10.0)
    phone.reg.unregister(now=10.0)
    assert phone.run(until=41.9) == []
    events = phone.run(until=42.0)
    assert len(events) == 1
    gone = events[0]
    assert isinstance(gone, Unregistered) and (gone.status, gone.response) == (None, None)


def test_unregister_before_register_sends_nothing() -> None:
    phone = Phone(Registrar())
    phone.reg.unregister(now=0.0)
    events = phone.run(until=0.0)
    assert len(events) == 1 and isinstance(events[0], Unregistered)
    assert events[0].status is None
    assert phone.registers() == []


def test_repeated_register_and_unregister() -> None:
    registrar = Registrar()
    phone = Phone(registrar)
    reg = phone.reg
    call_ids = []
    now = 0.0
    for _ in range(3):
        reg.register(now=now)
        assert kinds(phone.run(until=now)) == ["RegistrationSucceeded"]
        assert list(registrar.bindings[AOR]) == [CONTACT]
        phone.run(until=now + 5)
        reg.unregister(now=now + 5)
        assert kinds(phone.run(until=now + 5)) == ["Unregistered"]
        assert registrar.bindings[AOR] == {}
        call_ids.append(reg.call_id)
        now += 100.0
        phone.run(until=now)
        reg = phone.new_registration()
    assert len(set(call_ids)) == 3


# --- reading the 2xx ---------------------------------------------------------------------


def test_granted_expiry_comes_from_our_contact_among_several() -> None:
    registrar = Registrar(max_expires=1800)
    registrar.bindings[AOR] = {
        "sip:alice@198.51.100.7": (NameAddr.parse("<sip:alice@198.51.100.7>"), 7200.0),
        "sip:alice@192.0.2.10": (NameAddr.parse("<sip:alice@192.0.2.10>"), 900.0),
    }
    phone = Phone(registrar)
    phone.reg.register(now=0.0)
    events = phone.run(until=0.0)
    ok = events[0]
    assert isinstance(ok, RegistrationSucceeded)
    assert len(ok.response.contact) == 3
    assert ok.expires == 1800  # not 7200 or 900: those are other bindings (no port here)
    assert phone.reg.expires_at == 1800.0


def test_expires_header_is_used_when_our_contact_is_not_listed() -> None:
    registrar = Registrar()
    registrar.script.append((200, [("Expires", "900")]))
    phone = Phone(registrar, credentials=None)
    phone.reg.register(now=0.0)
    events = phone.run(until=0.0)
    assert isinstance(events[0], RegistrationSucceeded) and events[0].expires == 900
    phone.run(until=450.0)
    assert [at for at, _ in phone.registers()] == [0.0, 450.0]


def test_contact_rewritten_by_the_registrar_is_matched_by_instance_id() -> None:
    registrar = Registrar()
    instance = f'"<urn:uuid:{UUID.lower()}>"'
    registrar.script.append((200, [
        ("Contact", f"<sip:alice@203.0.113.5:40000>;reg-id=1;+sip.instance={instance};"
                    "expires=600"),
        ("Contact", "<sip:alice@198.51.100.7>;expires=3000"),
    ]))
    phone = Phone(registrar, credentials=None, instance_id=f"urn:uuid:{UUID}")
    phone.reg.register(now=0.0)
    events = phone.run(until=0.0)
    assert isinstance(events[0], RegistrationSucceeded) and events[0].expires == 600


# --- network changes -------------------------------------------------------------------


def test_network_change_reregisters_and_removes_the_old_contact() -> None:
    phone = Phone(Registrar(nonce_lifetime=1e9))
    phone.reg.register(now=0.0)
    phone.run(until=0.0)
    new_contact = "sip:alice@192.0.2.99:5060"
    phone.run(until=50.0)
    phone.reg.network_changed(now=50.0, contact=SipUri.parse(new_contact))
    assert phone.reg.state is RegistrationState.REFRESHING
    events = phone.run(until=50.0)
    assert isinstance(events[0], RegistrationSucceeded) and events[0].refreshed
    _, request = phone.registers()[-1]
    assert [str(c) for c in request.contact] == [
        f"<{CONTACT}>;expires=0", f"<{new_contact}>;expires=3600"]
    assert list(phone.registrar.bindings[AOR]) == [new_contact]
    assert str(phone.reg.contact.uri) == new_contact
    phone.run(until=3050.0)
    _, refresh = phone.registers()[-1]
    assert [str(c) for c in refresh.contact] == [f"<{new_contact}>;expires=3600"]


def test_register_while_failed_starts_over() -> None:
    registrar = Registrar()
    registrar.script.append((403, []))
    phone = Phone(registrar, retry_times=0)
    phone.reg.register(now=0.0)
    assert kinds(phone.run(until=0.0)) == ["RegistrationFailed"]
    assert phone.reg.state is RegistrationState.FAILED
    phone.run(until=5.0)
    phone.reg.register(now=5.0)
    assert phone.reg.state is RegistrationState.REGISTERING
    assert kinds(phone.run(until=5.0)) == ["RegistrationSucceeded"]
    assert [(at, r.cseq.seq) for at, r in phone.registers()] == [(0.0, 1), (5.0, 2), (5.0, 3)]


# --- configuration -----------------------------------------------------------------------


def test_config_is_validated_and_hides_the_password() -> None:
    base: dict[str, object] = {
        "aor": SipUri.parse(AOR), "registrar": SipUri.parse("sip:example.com"),
        "contact": SipUri.parse(CONTACT), "targets": (REGISTRAR,),
        "credentials": Credentials("alice", "hunter2"),
    }
    config = RegistrationConfig(**base)  # type: ignore[arg-type]
    assert config.targets == (REGISTRAR,)
    assert "hunter2" not in repr(config)
    assert RegistrationConfig(**base, instance_id=UUID).instance_urn == f"urn:uuid:{UUID}"  # type: ignore[arg-type]
    bad: list[dict[str, object]] = [
        {"expires": 0}, {"expires": 3601}, {"targets": ()}, {"reg_id": 0},
        {"instance_id": '"x"'}, {"extra_headers": (("Contact", "<sip:x@y>"),)},
        {"extra_headers": (("X-A", "a\r\nB: b"),)},
    ]
    for changes in bad:
        with pytest.raises(ValueError):
            RegistrationConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_endless_stale_challenges_give_up_after_max_challenges() -> None:
    registrar = Registrar()
    for n in range(MAX_CHALLENGES + 1):
        stale = Challenge(realm=REALM, nonce=f"n{n}", qop=(Qop.AUTH,), stale=True)
        registrar.script.append((401, [("WWW-Authenticate", str(stale))]))
    phone = Phone(registrar, retry_times=0)
    phone.reg.register(now=0.0)
    events = phone.run(until=0.0)
    assert [(type(e).__name__, getattr(e, "status", None)) for e in events] == [
        ("RegistrationFailed", 401)]
    nonces = [DigestResponse.parse(r.headers.get("Authorization") or "").nonce
              for _, r in phone.registers()[1:]]
    assert nonces == [f"n{n}" for n in range(MAX_CHALLENGES)]


def test_a_superseded_register_is_ignored() -> None:
    registrar = Registrar()
    phone = Phone(registrar, credentials=None)
    registrar.script.extend([(200, [("Expires", "900")]), (200, [("Expires", "600")])])
    phone.network.hold(is_request("REGISTER"), 1.0, count=2)  # CSeq 1 and its resend at 0.5
    phone.reg.register(now=0.0)
    assert phone.run(until=0.5) == []
    phone.reg.register(now=0.5)  # the application restarts it: CSeq 2 overtakes CSeq 1
    events = phone.run(until=2.0)
    assert [r.cseq.seq for r in registrar.requests] == [2, 1]  # the resend is absorbed
    assert [(type(e).__name__, getattr(e, "expires", None)) for e in events] == [
        ("RegistrationSucceeded", 900)]  # the late 200 (600) to CSeq 1 is ignored
    assert phone.reg.expires == 900
