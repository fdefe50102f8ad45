"""Account: one SIP identity of a Phone — registration and outgoing calls.

Knows: ``sip.usage.registration.ClientRegistration``, ``InviteSession.create_uac``,
digest credentials and how the account's server is located. Must not know:
sockets, SDP details (``Call`` does those) or the facade.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from voipkit.api import messaging
from voipkit.api.bus import EventBus
from voipkit.api.call import Call, build_offer
from voipkit.api.config import AccountConfig, split_host_port
from voipkit.api.errors import RegistrationFailed
from voipkit.api.events import AccountRegistered, AccountRegistrationFailed, AccountUnregistered
from voipkit.api.video import CallVideo
from voipkit.sdp import Direction
from voipkit.sip.addressing import Destination, TransportKind, format_host
from voipkit.sip.auth import Credentials
from voipkit.sip.message import NameAddr
from voipkit.sip.uri import SipUri
from voipkit.sip.usage import invite as inv
from voipkit.sip.usage import registration as reg

if TYPE_CHECKING:
    from voipkit.api.phone import Phone

logger = logging.getLogger(__name__)


class Account:
    """A SIP identity: ``sip:user@domain``, its credentials and its server."""

    def __init__(self, phone: Phone, config: AccountConfig, *, account_id: int) -> None:
        self.phone = phone
        self.config = config
        self.id = account_id
        self.bus = EventBus(parent=phone.bus)
        self.registration: reg.ClientRegistration | None = None
        self.registered = False
        "True while the registrar holds our binding."
        self._usage_ids: set[int] = set()
        self._outcome: asyncio.Future[AccountRegistered] | None = None
        self._unregistered: asyncio.Future[None] | None = None
        self._flows: set[Destination] = set()

    def __repr__(self) -> str:
        return f"<Account {self.aor}>"

    @property
    def aor(self) -> SipUri:
        """Our address of record, sip:user@domain."""
        user = self.phone.escape_user(self.config.user)
        return SipUri.parse(f"sip:{user}@{format_host(self.config.domain)}")

    @property
    def credentials(self) -> Credentials | None:
        if self.config.password is None:
            return None
        return Credentials(self.config.auth_name or self.config.user, self.config.password)

    def on(self, event_type: type[Any]) -> Any:
        return self.bus.on(event_type)

    def owns(self, usage_id: int) -> bool:
        return usage_id in self._usage_ids

    # --- server location ---------------------------------------------------------------

    def _server_uri(self, hostport: str | None) -> SipUri:
        host, port = split_host_port(hostport or self.config.domain, what="server")
        scheme = "sips" if self.config.kind is TransportKind.TLS else "sip"
        text = f"{scheme}:{format_host(host)}" + (f":{port}" if port else "")
        uri = SipUri.parse(text)
        if self.config.kind is TransportKind.TCP:
            uri.params["transport"] = "tcp"
        return uri

    async def targets(self) -> list[Destination]:
        """Where this account's requests go: the outbound proxy, else the server/domain."""
        uri = self._server_uri(self.config.outbound_proxy or self.config.server)
        return await self.phone.resolve(uri, self.config.kind)

    def route_set(self) -> tuple[NameAddr, ...]:
        """The pre-loaded Route set of this account's requests (the outbound proxy)."""
        return self._route()

    async def send_message(self, to: str, body: bytes | str, content_type: str | None = None,
                           *, sms: bool = False) -> messaging.OutgoingMessage:
        """Send a MESSAGE outside any call as this account (sendOutOfDialogMessage)."""
        return await messaging.send_message(self.phone, to, body, content_type, account=self,
                                            sms=sms)

    def _route(self) -> tuple[NameAddr, ...]:
        if self.config.outbound_proxy is None:
            return ()
        uri = self._server_uri(self.config.outbound_proxy)
        uri.params["lr"] = None
        return (NameAddr(uri),)

    # --- registration ------------------------------------------------------------------

    async def register(self, *, timeout: float | None = None) -> AccountRegistered:
        """REGISTER and wait for the first outcome; refreshes continue in the background.

        Raises:
            RegistrationFailed: the registrar refused it or did not answer (``status`` 408).
        """
        targets = await self.targets()
        loop = self.phone.loop
        if self.registration is not None:
            self.registration.unregister(now=self.phone.now())
        contact = self.phone.contact(self.config.kind, self.config.user)
        if self.config.stun is not None and self.config.kind is TransportKind.UDP:
            # RFC 5389: learn the address the registrar will see and register that
            host, port = await self.phone.public_address(self.config.stun)
            assert isinstance(contact.uri, SipUri)
            contact.uri.host, contact.uri.port = host, port
        self._flows = set(targets)
        config = reg.RegistrationConfig(
            aor=self.aor, registrar=self._server_uri(self.config.server),
            contact=contact,
            targets=tuple(targets), credentials=self.credentials,
            display_name=self.config.display_name, expires=self.config.expires,
            retry_times=self.config.retry_times, instance_id=self.config.instance_id,
            route=self._route(), user_agent=self.phone.config.user_agent,
        )
        manager = self.phone.manager
        usage = reg.ClientRegistration(manager, manager.new_usage_id(), config=config)
        manager.add(usage)
        self._usage_ids.add(usage.id)
        self.registration = usage
        self._outcome = loop.create_future()
        usage.register(now=self.phone.now())
        self.phone.pump()
        return await asyncio.wait_for(asyncio.shield(self._outcome), timeout)

    async def unregister(self, *, timeout: float | None = 5.0) -> None:
        """Remove the binding (REGISTER with Expires: 0) and wait up to ``timeout``."""
        usage = self.registration
        if usage is None or usage.state in (reg.RegistrationState.UNREGISTERED,
                                            reg.RegistrationState.UNREGISTERING):
            return
        self._unregistered = self.phone.loop.create_future()
        usage.unregister(now=self.phone.now())
        self.phone.pump()
        try:
            await asyncio.wait_for(asyncio.shield(self._unregistered), timeout)
        except TimeoutError:
            logger.info("%r: no answer to the un-REGISTER within %s s", self, timeout)

    def handle(self, event: reg.RegistrationSucceeded | reg.RegistrationFailed
               | reg.Unregistered) -> None:
        if isinstance(event, reg.RegistrationSucceeded):
            self.registered = True
            for destination in self._flows:
                self.phone.watch_flow(destination)
            public = AccountRegistered(self, event.status, event.reason, event.expires,
                                       event.response)
            self.bus.emit(public)
            if self._outcome is not None and not self._outcome.done():
                self._outcome.set_result(public)
        elif isinstance(event, reg.RegistrationFailed):
            self.registered = False
            status = event.status if event.status is not None else 408
            failed = AccountRegistrationFailed(self, status, event.reason, event.response,
                                               event.retry_at)
            self.bus.emit(failed)
            if self._outcome is not None and not self._outcome.done():
                self._outcome.set_exception(RegistrationFailed(
                    f"registration of {self.aor} failed: {status} {event.reason}",
                    status=status, reason=event.reason, response=event.response))
                self._outcome.exception()  # retrieved: nobody may be awaiting it
        else:
            self.registered = False
            self.bus.emit(AccountUnregistered(self, event.status, event.reason))
            if self._unregistered is not None and not self._unregistered.done():
                self._unregistered.set_result(None)

    def flow_failed(self, destination: Destination) -> None:
        """The keep-alive lost the flow to ``destination``: register again now."""
        usage = self.registration
        if destination in self._flows and usage is not None and usage.state in (
                reg.RegistrationState.REGISTERED, reg.RegistrationState.REFRESHING):
            usage.network_changed(now=self.phone.now())
            self.phone.pump()

    # --- calls -------------------------------------------------------------------------

    async def call(self, uri: str, *, send_sdp: bool = True,
                   headers: tuple[tuple[str, str], ...] = (), video: bool = False) -> Call:
        """Start a call to ``uri`` (``bob``, ``bob@host`` or a full URI).

        Returns once the INVITE is on its way; ``await call.answered()`` for the outcome.
        With ``send_sdp=False`` the INVITE carries no offer and the callee offers in its 2xx.
        ``video`` adds a video stream (``call.video``, api.video).
        """
        phone = self.phone
        target = phone.normalize_uri(uri, self.config.domain)
        request_uri = SipUri.parse(target)
        if self.config.server or self.config.outbound_proxy:
            targets = await self.targets()
        else:
            targets = await phone.resolve(request_uri, self.config.kind)
        transport = targets[0].transport
        family = 6 if ":" in targets[0].host else 4
        audio = await phone.open_audio()
        manager = phone.manager
        extra = tuple(("Route", str(route)) for route in self._route()) + tuple(headers)
        local = NameAddr(self.aor, self.config.display_name)
        secure = transport is TransportKind.TLS  # SDES keys may travel only over TLS
        offer = (build_offer(phone, audio, Direction.SENDRECV, secure_signalling=secure)
                 if send_sdp else None)
        video_leg = await CallVideo.open(phone) if video else None
        if video_leg is not None and offer is not None:
            offer.media.append(video_leg.offer_line(Direction.SENDRECV, offer))
        try:
            session = inv.InviteSession.create_uac(
                manager, request_uri=target, from_=local, to=NameAddr(request_uri),
                contact=phone.contact(transport, self.config.user, family), targets=targets,
                body=bytes(offer) if offer is not None else None,
                extra_headers=extra, credentials=self.credentials,
                session_timer=phone.policy.session_timer, reliable=phone.policy.reliable,
                now=phone.now())
        except Exception:
            await audio.close("call not sent")
            if video_leg is not None:
                video_leg.abort("call not sent")
            raise
        call = Call(phone, session, incoming=False, remote=NameAddr(request_uri), local=local,
                    audio=audio, offer=offer)
        call.video = video_leg
        call.secure_signalling = secure
        phone.register_call(call)
        phone.pump()
        return call
