"""Event subscriptions of a Phone: SUBSCRIBE/NOTIFY, presence, MWI, BLF and PUBLISH.

Knows: ``sip.usage.subscription`` (RFC 6665 ClientSubscription/ServerSubscription),
``sip.usage.publication`` (RFC 3903 ClientPublication), the bodies of the three
packages a softphone reads (``sip.bodies``: PIDF RFC 3863, dialog-info RFC 4235,
simple-message-summary RFC 3842), ``sip.replaces`` for BLF pickup (RFC 3891), and
the public ``Phone``/``Account``/``Call``. Must not know: sockets or the facade.

Every phone has one ``SubscriptionService`` (``phone.subscriptions``). It

- subscribes to any event package (``subscribe``), refreshing before expiry and
  reporting every NOTIFY (``SubscriptionNotified``), a refused NOTIFY
  (``SubscriptionNotifyRejected``: 400 for a body its package parser refuses, 415
  for a body type outside Accept), failure (``SubscriptionFailure``) and the end
  (``SubscriptionEnded``); NOTIFYs of the known packages also become
  ``PresenceOnline``/``PresenceOffline`` (presence), ``DialogStateUpdated`` (dialog)
  and ``MessagesWaiting`` (message-summary);
- serves the ``presence`` package (RFC 3856) peer to peer: a SUBSCRIBE becomes a
  ``PresenceWatcher`` (``PresenceSubscribeReceived``) to ``accept`` or ``reject``;
  ``set_presence`` NOTIFYs watchers (P2P mode) or PUBLISHes to the account's server
  (agent mode, RFC 3903, SIP-ETag refreshes, removal on close); other packages
  are answered 489;
- checks MWI after each registration when ``auto_check_mwi`` is on (RFC 3842 §4);
- keeps the dialogs BLF NOTIFYs reported, so ``pickup`` can send an INVITE with
  Replaces for one of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from voipkit.api.account import Account
from voipkit.api.config import AccountConfig
from voipkit.api.errors import (
    ConfigurationError,
    InvalidStateError,
    NotFoundError,
    RequestFailed,
    TransactionTimeout,
)
from voipkit.api.events import AccountRegistered, PhoneEvent
from voipkit.sip.addressing import Destination
from voipkit.sip.bodies import (
    DIALOG_INFO,
    MESSAGE_SUMMARY,
    PIDF,
    Basic,
    DialogEntry,
    DialogInfo,
    DialogPhase,
    MessageSummary,
    Pidf,
    PidfTuple,
    build_pidf,
    parse_dialog_info,
    parse_message_summary,
    parse_pidf,
)
from voipkit.sip.dialog import DialogId
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import RequestReceived
from voipkit.sip.message import NameAddr, Request, Response
from voipkit.sip.replaces import Replaces
from voipkit.sip.uri import SipUri
from voipkit.sip.usage import publication as pub
from voipkit.sip.usage import subscription as sub
from voipkit.sip.usage.base import UsageEvent

if TYPE_CHECKING:
    from voipkit.api.call import Call
    from voipkit.api.phone import Phone

logger = logging.getLogger(__name__)

OFFLINE = "Offline"
"The status text that means closed (the manual's setPresenceStatus convention)."


class PresenceMode(Enum):
    """setPresenceMode: who tells watchers our presence."""

    P2P = 0
    "We answer SUBSCRIBEs ourselves and NOTIFY each watcher."
    AGENT = 1
    "A presence agent (the server) does: we PUBLISH our state to it (RFC 3903)."


@dataclass(frozen=True, slots=True)
class _Package:
    accept: tuple[str, ...]
    parse: Callable[[bytes, str | None], object] | None


def _parse_pidf(body: bytes, content_type: str | None) -> object:
    return parse_pidf(body)


def _parse_dialog_info(body: bytes, content_type: str | None) -> object:
    return parse_dialog_info(body)


def _parse_summary(body: bytes, content_type: str | None) -> object:
    return parse_message_summary(body)


#: The packages whose bodies voipkit reads: Accept and the parser (400 on a bad body).
PACKAGES: dict[str, _Package] = {
    "presence": _Package((PIDF,), _parse_pidf),
    "dialog": _Package((DIALOG_INFO,), _parse_dialog_info),
    "message-summary": _Package((MESSAGE_SUMMARY,), _parse_summary),
}


# --- public objects ------------------------------------------------------------------------


class Subscription:
    """A subscription we made (sendSubscription / presenceSubscribe); ``id`` is unique."""

    def __init__(self, service: SubscriptionService, usage: sub.ClientSubscription, *,
                 account: Account, target: str, event: str) -> None:
        self._service = service
        self._usage = usage
        self.id = usage.id
        "Unique in the phone (the facade's subscribeId)."
        self.account = account
        self.target = target
        "The resource's URI."
        self.event = event
        "The Event header value (package and optional ;id=)."
        self.ended_reason: str | None = None
        "Why it ended (None while it lives)."
        self._ended: asyncio.Future[str] = service.phone.loop.create_future()

    def __repr__(self) -> str:
        return f"<Subscription {self.id} {self.event} {self.target}>"

    @property
    def package(self) -> str:
        return self.event.split(";", 1)[0].strip()

    @property
    def active(self) -> bool:
        """True once a NOTIFY said active (False while pending, subscribing or ended)."""
        return self._usage.state is sub.ClientState.ACTIVE

    @property
    def expires_at(self) -> float | None:
        """When the subscription lapses unless refreshed (loop time)."""
        return self._usage.expires_at

    async def terminate(self) -> None:
        """Unsubscribe (Expires: 0); ``SubscriptionEnded`` follows the final NOTIFY."""
        if self.ended_reason is not None:
            return
        try:
            self._usage.unsubscribe(now=self._service.phone.now())
        except LocalProtocolError as exc:
            raise InvalidStateError(f"subscription {self.id}: {exc}") from exc
        self._service.phone.pump()

    async def ended(self, timeout: float | None = None) -> str:
        """Wait for the end; returns the reason."""
        return await asyncio.wait_for(asyncio.shield(self._ended), timeout)

    def _end(self, reason: str) -> None:
        self.ended_reason = reason
        if not self._ended.done():
            self._ended.set_result(reason)


class Watcher:
    """Someone subscribed to a package we serve (``SubscriptionService.serve``): ``accept``
    or ``reject`` it, then ``notify`` whenever the state changes."""

    def __init__(self, service: SubscriptionService, usage: sub.ServerSubscription,
                 request: Request) -> None:
        self._service = service
        self._usage = usage
        self.id = usage.id
        "Unique in the phone (the facade's subscribeId)."
        self.request = request
        "The SUBSCRIBE."
        self.remote = request.from_
        "The watcher's identity."
        self.package = (request.headers.get("Event") or "").split(";", 1)[0].strip()
        self.subject = request.headers.get("Subject") or ""
        self.entity = str(request.to.uri)
        "The resource they asked for (our URI as they know it)."
        self.ended_reason: str | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.package} {self.remote.uri}>"

    @property
    def live(self) -> bool:
        """Accepted and not ended: NOTIFYs can be sent."""
        return self._usage.state in (sub.ServerState.PENDING, sub.ServerState.ACTIVE)

    def accept(self, body: bytes | None = None, content_type: str | None = None) -> None:
        """200, then a NOTIFY with ``body`` (the current state) at once (RFC 6665 §4.2.1.2)."""
        self._act(lambda now: self._usage.accept(body, content_type, now=now))

    def reject(self, status: int = 403) -> None:
        """Refuse the subscription (403 Forbidden unless told)."""
        self._act(lambda now: self._usage.reject(status, now=now))

    def notify(self, body: bytes, content_type: str) -> None:
        """NOTIFY the new state."""
        self._act(lambda now: self._usage.notify(body, content_type, now=now))

    def terminate(self, reason: str = "noresource") -> None:
        """End the subscription with a final NOTIFY (terminated;reason=...)."""
        self._act(lambda now: self._usage.terminate(reason, now=now))

    def _act(self, action: Callable[[float], None]) -> None:
        try:
            action(self._service.phone.now())
        except LocalProtocolError as exc:
            raise InvalidStateError(f"subscription {self.id} from a watcher: {exc}") from exc
        self._service.phone.pump()


class PresenceWatcher(Watcher):
    """Someone subscribed to our presence (P2P mode): ``accept`` sends our current status."""

    status: str | None = None
    "The text last sent to this watcher (None: nothing yet)."

    def accept(self, body: bytes | None = None, content_type: str | None = None) -> None:
        """200, then a NOTIFY with our current presence (or ``body`` when given)."""
        text = self._service.presence_text
        if body is None:
            body, content_type = self._service.presence_document(self.entity, text), PIDF
        super().accept(body, content_type)
        self.status = text

    def set_status(self, text: str) -> None:
        """NOTIFY ``text`` (``"Offline"``: closed) to this watcher."""
        self.notify(self._service.presence_document(self.entity, text), PIDF)
        self.status = text


class Publication:
    """Event state we publish (RFC 3903), refreshed with SIP-If-Match until removed."""

    def __init__(self, service: SubscriptionService, usage: pub.ClientPublication, *,
                 account: Account, event: str) -> None:
        self._service = service
        self._usage = usage
        self.id = usage.id
        self.account = account
        self.event = event
        self._waiting: list[asyncio.Future[None]] = []

    def __repr__(self) -> str:
        return f"<Publication {self.id} {self.event} {self.account.aor}>"

    @property
    def etag(self) -> str | None:
        """The entity-tag the compositor gave (SIP-ETag), or None."""
        return self._usage.etag

    @property
    def removed(self) -> bool:
        return self._usage.state is pub.PublicationState.REMOVED

    async def publish(self, body: bytes, content_type: str, *,
                      timeout: float | None = None) -> None:
        """Publish (or modify) the state and wait for the 2xx.

        Raises:
            RequestFailed: the compositor refused it; TransactionTimeout: no answer.
        """
        future: asyncio.Future[None] = self._service.phone.loop.create_future()
        self._waiting.append(future)
        try:
            self._usage.publish(body, content_type, now=self._service.phone.now())
        except LocalProtocolError as exc:
            self._waiting.remove(future)
            raise InvalidStateError(f"publication {self.id}: {exc}") from exc
        self._service.phone.pump()
        await asyncio.wait_for(asyncio.shield(future), timeout)

    async def remove(self) -> None:
        """Remove the state (SIP-If-Match, Expires: 0); returns when it is done."""
        if self.removed:
            return
        future: asyncio.Future[None] = self._service.phone.loop.create_future()
        self._waiting.append(future)
        self._usage.remove(now=self._service.phone.now())
        self._service.phone.pump()
        await asyncio.wait_for(asyncio.shield(future), 40.0)

    def _settle(self, error: Exception | None) -> None:
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
                future.exception()  # retrieved: nobody may be awaiting it


@dataclass(frozen=True, slots=True)
class BlfDialog:
    """A dialog a BLF (dialog package) NOTIFY reported."""

    monitored: str
    "The monitored URI (the dialog-info entity)."
    entry: DialogEntry
    "The dialog as reported (call-id, tags, direction, remote identity and target)."
    subscription: Subscription
    "The subscription that reported it (its account sends the pickup)."


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionNotified(PhoneEvent):
    """A NOTIFY of our subscription arrived and was accepted (onRecvNotifyOfSubscription)."""

    subscription: Subscription
    body: bytes
    content_type: str | None
    state: str
    "The Subscription-State value (active;expires=600, pending, terminated;reason=...)."
    request: Request


@dataclass(frozen=True, slots=True)
class SubscriptionNotifyRejected(PhoneEvent):
    """A NOTIFY was refused (400 bad body, 415 body type); the subscription goes on."""

    subscription: Subscription
    status: int
    reason: str
    request: Request


@dataclass(frozen=True, slots=True)
class SubscriptionFailure(PhoneEvent):
    """The SUBSCRIBE was refused or got no answer (onSubscriptionFailure)."""

    subscription: Subscription
    status: int
    "The final status (408 when nothing answered)."
    reason: str
    response: Response | None


@dataclass(frozen=True, slots=True)
class SubscriptionRefreshFailure(PhoneEvent):
    """A refreshing SUBSCRIBE was refused or got no answer (onSubscriptionFailure).

    The subscription lives on until ``expires_at``; unless a NOTIFY extends it, it
    then ends with ``SubscriptionEnded`` reason ``timeout`` (RFC 6665 §4.1.2.2). A 481
    ends it at once instead (``SubscriptionEnded`` reason ``refresh-rejected``).
    """

    subscription: Subscription
    status: int
    "The final status (408 when nothing answered)."
    expires_at: float | None
    "When it lapses, in the phone's clock (``Phone.now()``)."


@dataclass(frozen=True, slots=True)
class SubscriptionEnded(PhoneEvent):
    """An established subscription is over (onSubscriptionTerminated)."""

    subscription: Subscription
    reason: str
    "timeout, noresource, rejected, deactivated, unsubscribed, no-notify ..."
    retry_after: int | None


@dataclass(frozen=True, slots=True)
class PresenceOnline(PhoneEvent):
    """A presentity we watch is online or changed its note (onPresenceOnline)."""

    subscription: Subscription
    display_name: str
    uri: str
    note: str
    "Its status text (the first PIDF note; empty when none)."
    document: Pidf


@dataclass(frozen=True, slots=True)
class PresenceOffline(PhoneEvent):
    """A presentity we watch went offline: no open tuple (onPresenceOffline)."""

    subscription: Subscription
    display_name: str
    uri: str
    document: Pidf


@dataclass(frozen=True, slots=True)
class DialogStateUpdated(PhoneEvent):
    """A BLF NOTIFY reported one dialog of the monitored user (onDialogStateUpdated)."""

    subscription: Subscription
    monitored: str
    "The monitored URI."
    state: str
    "trying, proceeding, early, confirmed or terminated."
    dialog_id: str
    "The dialog's id in the document (pickup takes it)."
    direction: str
    "initiator (the monitored user called) or recipient; empty when not given."
    entry: DialogEntry


@dataclass(frozen=True, slots=True)
class MessagesWaiting(PhoneEvent):
    """A message-summary NOTIFY (onWaitingVoiceMessage / onWaitingFaxMessage)."""

    subscription: Subscription
    account: str
    "The Message-Account, else the subscribed URI."
    summary: MessageSummary


@dataclass(frozen=True, slots=True)
class PresenceSubscribeReceived(PhoneEvent):
    """Someone subscribed to our presence (onPresenceRecvSubscribe): accept or reject."""

    watcher: PresenceWatcher
    request: Request


@dataclass(frozen=True, slots=True)
class WatcherSubscribed(PhoneEvent):
    """Someone subscribed to another package we serve (``serve``): accept or reject."""

    watcher: Watcher
    request: Request


@dataclass(frozen=True, slots=True)
class WatcherEnded(PhoneEvent):
    """A subscription we served is over (unsubscribed, timeout, rejected, ...)."""

    watcher: Watcher
    reason: str


@dataclass(frozen=True, slots=True)
class PublicationFailure(PhoneEvent):
    """A PUBLISH failed (no refresh follows; publishing again starts over)."""

    publication: Publication
    status: int
    reason: str


# --- the service ------------------------------------------------------------------------------


class SubscriptionService:
    """The phone's subscriptions, presence watchers and publications (see the module doc)."""

    def __init__(self, phone: Phone) -> None:
        self.phone = phone
        self.default_subscription_expires = 3600
        "Expires of new subscriptions (setDefaultSubscriptionTime)."
        self.default_publication_expires = 3600
        "Expires of new publications (setDefaultPublicationTime)."
        self.presence_mode = PresenceMode.P2P
        self.presence_text: str | None = None
        "Our status text (None: online without a note; ``Offline``: closed)."
        self.auto_check_mwi = False
        "Subscribe to message-summary after each registration (enableAutoCheckMwi)."
        self._subscriptions: dict[int, Subscription] = {}
        self._watchers: dict[int, Watcher] = {}
        self._served: dict[str, sub.EventPackagePolicy] = {}
        self._publications: dict[int, Publication] = {}
        self._presence_publications: dict[int, Publication] = {}  # account id -> PUBLISH
        self._mwi: dict[int, Subscription] = {}  # account id -> MWI subscription
        self._mwi_starting: set[int] = set()
        self._blf: dict[str, BlfDialog] = {}
        self._tuple_id = f"t{phone.ids.tag()}"

    def install(self) -> None:
        """Serve presence SUBSCRIBEs (489 for other packages), 481 stray NOTIFYs, and
        follow registrations for MWI. Called by ``Phone.start``."""
        self.serve("presence")
        self.phone.manager.on_new_request("NOTIFY", sub.reject_unknown_notify())
        self.phone.bus.on(AccountRegistered)(self._on_registered)

    def serve(self, package: str, *, min_expires: int = 60, max_expires: int = 3600) -> None:
        """Answer SUBSCRIBEs for ``package`` (``WatcherSubscribed``; presence is served from
        the start). Packages not served are answered 489 Bad Event (RFC 6665 §8.2.2)."""
        if not package or any(c in package for c in " ;,\r\n"):
            raise ConfigurationError(f"bad event package {package!r}")
        try:
            self._served[package] = sub.EventPackagePolicy(
                contact=self.phone.contact(self.phone.listening[0][0]),
                min_expires=min_expires, default_expires=max_expires, max_expires=max_expires)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        self.phone.manager.on_new_request("SUBSCRIBE", sub.subscription_factory(
            self._served, contact_for=self._contact_for))

    def _contact_for(self, event: RequestReceived) -> NameAddr:
        request = event.request
        family = 6 if ":" in event.source[0] else 4
        user = request.uri.user if isinstance(request.uri, SipUri) else None
        return self.phone.contact(event.transport, user, family)

    # --- lookups -------------------------------------------------------------------------

    @property
    def subscriptions(self) -> dict[int, Subscription]:
        return dict(self._subscriptions)

    @property
    def watchers(self) -> dict[int, Watcher]:
        return dict(self._watchers)

    def subscription(self, subscription_id: int) -> Subscription:
        found = self._subscriptions.get(subscription_id)
        if found is None:
            raise NotFoundError(f"no subscription {subscription_id}")
        return found

    def watcher(self, watcher_id: int) -> Watcher:
        found = self._watchers.get(watcher_id)
        if found is None:
            raise NotFoundError(f"no subscription {watcher_id} from a watcher")
        return found

    def presence_watcher(self, watcher_id: int) -> PresenceWatcher:
        found = self._watchers.get(watcher_id)
        if not isinstance(found, PresenceWatcher):
            raise NotFoundError(f"no presence subscription {watcher_id} from a watcher")
        return found

    def blf_dialog(self, dialog_id: str) -> BlfDialog:
        """The dialog a BLF NOTIFY reported under ``dialog_id`` (until it terminated)."""
        found = self._blf.get(dialog_id)
        if found is None:
            raise NotFoundError(f"no monitored dialog {dialog_id!r} (BLF)")
        return found

    # --- subscribing ---------------------------------------------------------------------

    def _account(self, account: Account | None) -> Account:
        if account is not None:
            return account
        accounts = self.phone.accounts
        if accounts:
            return accounts[0]
        # P2P: an identity at our own address, as Phone.call does
        return Account(self.phone, AccountConfig(user="voipkit", domain=self.phone.rtp_ip),
                       account_id=0)

    async def _where(self, account: Account, target: str,
                     ) -> tuple[SipUri, list[Destination], tuple[NameAddr, ...]]:
        uri = SipUri.parse(self.phone.normalize_uri(target, account.config.domain))
        if account.config.server or account.config.outbound_proxy:
            targets = await account.targets()
        else:
            targets = await self.phone.resolve(uri, account.config.kind)
        return uri, list(targets), account._route()

    async def subscribe(self, target: str, event: str, *, account: Account | None = None,
                        expires: int | None = None, headers: tuple[tuple[str, str], ...] = (),
                        ) -> Subscription:
        """SUBSCRIBE to ``event`` of ``target`` (``100``, ``bob@host`` or a URI).

        Returns once the SUBSCRIBE is on its way; the outcome arrives as events.
        Known packages (presence, dialog, message-summary) send their Accept and have
        their bodies checked and decoded.

        Raises:
            ConfigurationError: a bad target, event or expires.
        """
        account = self._account(account)
        package = event.split(";", 1)[0].strip()
        known = PACKAGES.get(package)
        uri, targets, route = await self._where(account, target)
        transport = targets[0].transport
        family = 6 if ":" in targets[0].host else 4
        try:
            config = sub.SubscriptionConfig(
                event=event, request_uri=uri,
                from_=NameAddr(account.aor, account.config.display_name),
                to=NameAddr(uri.replace()),
                contact=self.phone.contact(transport, account.config.user, family),
                targets=tuple(targets),
                expires=expires or self.default_subscription_expires,
                accept=known.accept if known else (), credentials=account.credentials,
                route=route, extra_headers=headers,
                parse_body=known.parse if known else None)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        manager = self.phone.manager
        usage = sub.ClientSubscription(manager, manager.new_usage_id(), config=config)
        manager.add(usage)
        subscription = Subscription(self, usage, account=account, target=str(uri),
                                    event=event)
        self._subscriptions[usage.id] = subscription
        usage.subscribe(now=self.phone.now())
        self.phone.pump()
        return subscription

    async def subscribe_presence(self, target: str, subject: str = "", *,
                                 account: Account | None = None) -> Subscription:
        """presenceSubscribe: watch ``target``'s presence (``subject`` in a Subject header)."""
        headers = (("Subject", subject),) if subject else ()
        if any(c in subject for c in "\r\n"):
            raise ConfigurationError("a subject cannot contain line breaks")
        return await self.subscribe(target, "presence", account=account, headers=headers)

    def set_auto_check_mwi(self, enabled: bool) -> None:
        """enableAutoCheckMwi: subscribe to our own message-summary after registering
        (and now, for accounts already registered); off: unsubscribe.

        One subscription per account: it refreshes itself, so registering again (or
        un-registering) leaves it alone; it ends when this is turned off, when the
        notifier ends it (the next registration starts a new one) or on close."""
        self.auto_check_mwi = bool(enabled)
        for account in self.phone.accounts:
            if enabled and account.registered:
                self.phone.spawn(self._check_mwi(account))
            elif not enabled and (mwi := self._mwi.pop(account.id, None)) is not None:
                self.phone.spawn(mwi.terminate())

    async def _check_mwi(self, account: Account) -> None:
        current = self._mwi.get(account.id)
        if (current is not None and current.ended_reason is None) or (
                account.id in self._mwi_starting):
            return  # one MWI subscription per account, however often it re-registers
        self._mwi_starting.add(account.id)
        try:
            self._mwi[account.id] = await self.subscribe(str(account.aor), "message-summary",
                                                         account=account)
        finally:
            self._mwi_starting.discard(account.id)

    def _on_registered(self, event: AccountRegistered) -> None:
        if self.auto_check_mwi:
            self.phone.spawn(self._check_mwi(event.account))


    # --- presence we tell ----------------------------------------------------------------

    def presence_document(self, entity: str, text: str | None) -> bytes:
        """Our PIDF for ``entity``: open with ``text`` as note, closed for ``Offline``."""
        closed = text is not None and text.strip().lower() == OFFLINE.lower()
        notes = (text,) if text and not closed else ()
        basic = Basic.CLOSED if closed else Basic.OPEN
        return build_pidf(Pidf(entity, (PidfTuple(self._tuple_id, basic, notes=notes),)))

    async def set_presence(self, text: str, watcher_id: int = 0) -> None:
        """setPresenceStatus: P2P mode NOTIFYs watcher ``watcher_id`` (0: every watcher);
        agent mode PUBLISHes to each registered account's server (``watcher_id`` 0) and
        waits for the 2xx.

        Raises:
            NotFoundError: an unknown watcher; RequestFailed: the PUBLISH was refused.
        """
        if any(c in text for c in "\r\n") or len(text) > 1024:
            raise ConfigurationError("a presence status text is one line of at most 1024")
        self.presence_text = text
        if self.presence_mode is PresenceMode.AGENT:
            if watcher_id:
                raise ConfigurationError("in presence agent mode setPresenceStatus takes "
                                         f"subscribeId 0, not {watcher_id}")
            accounts = [a for a in self.phone.accounts if a.config.server
                        or a.config.outbound_proxy]
            if not accounts:
                raise InvalidStateError("presence agent mode needs an account with a server")
            for account in accounts:
                await self._publish_presence(account, text)
            return
        watchers = [self.presence_watcher(watcher_id)] if watcher_id else [
            w for w in self._watchers.values()
            if isinstance(w, PresenceWatcher) and w.live]  # the others await an answer
        for watcher in watchers:
            watcher.set_status(text)

    async def _publish_presence(self, account: Account, text: str) -> None:
        publication = self._presence_publications.get(account.id)
        if publication is None or publication.removed:
            publication = await self.publish("presence", account=account)
            self._presence_publications[account.id] = publication
        await publication.publish(self.presence_document(str(account.aor), text), PIDF,
                                  timeout=40.0)

    async def publish(self, event: str, *, account: Account | None = None,
                      expires: int | None = None) -> Publication:
        """A publication of ``event`` state for ``account`` (nothing sent before
        ``Publication.publish``)."""
        account = self._account(account)
        _, targets, route = await self._where(account, str(account.aor))
        try:
            config = pub.PublicationConfig(
                aor=account.aor, event=event, targets=tuple(targets),
                expires=expires or self.default_publication_expires,
                credentials=account.credentials, display_name=account.config.display_name,
                route=route)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        manager = self.phone.manager
        usage = pub.ClientPublication(manager, manager.new_usage_id(), config=config)
        manager.add(usage)
        publication = Publication(self, usage, account=account, event=event)
        self._publications[usage.id] = publication
        return publication

    # --- BLF pickup -----------------------------------------------------------------------

    async def pickup(self, dialog_id: str, *, video: bool = False) -> Call:
        """pickupBLFCall: take the monitored dialog ``dialog_id`` over.

        Sends an INVITE to the dialog's remote party (its target, else its
        identity) with Replaces naming that party's dialog with the monitored user
        (RFC 3891 §3: only the UA that sent the INVITE of an early dialog may
        replace it, so a ringing call is picked up at the caller), ``early-only``
        while it rings; ``video`` offers a video stream too (api.video).

        Raises:
            NotFoundError: no such monitored dialog; InvalidStateError: it lacks
            the Call-ID, tags or remote party a Replaces needs.
        """
        blf = self.blf_dialog(dialog_id)
        entry = blf.entry
        if entry.call_id is None or entry.local_tag is None or entry.remote_tag is None:
            raise InvalidStateError(f"dialog {dialog_id!r} was reported without call-id and "
                                    "tags; a Replaces cannot name it")
        remote = entry.remote
        target = (remote.target or remote.identity) if remote is not None else None
        if not target:
            raise InvalidStateError(f"dialog {dialog_id!r} was reported without its remote "
                                    "party; nobody to send the pickup INVITE to")
        early = entry.state in (DialogPhase.TRYING, DialogPhase.PROCEEDING, DialogPhase.EARLY)
        # the monitored user's dialog: local = theirs, remote = the party we INVITE
        replaces = Replaces.for_dialog(DialogId(entry.call_id, entry.local_tag,
                                                entry.remote_tag), early_only=early)
        return await blf.subscription.account.call(
            target, headers=(("Replaces", str(replaces)),), video=video)

    # --- events from the stack ------------------------------------------------------------

    def handle(self, event: object) -> bool:
        """Turn a usage event into public events; False when it is not ours."""
        if isinstance(event, sub.NotifyReceived | sub.NotifyRejected | sub.SubscriptionFailed
                      | sub.SubscriptionTerminated | sub.SubscriptionRefreshFailed
                      | sub.SubscriptionActive | sub.SubscriptionPending):
            subscription = self._subscriptions.get(event.usage_id)
            if subscription is not None:
                self._on_client(subscription, event)
            return True
        if isinstance(event, sub.SubscribeReceived | sub.SubscriptionEnded
                      | sub.SubscriptionRefreshed | sub.NotifyFailed):
            self._on_server(event)
            return True
        if isinstance(event, pub.Published | pub.PublicationFailed | pub.Unpublished):
            publication = self._publications.get(event.usage_id)
            if publication is not None:
                self._on_publication(publication, event)
            return True
        return False

    def _on_client(self, subscription: Subscription, event: UsageEvent) -> None:
        bus = self.phone.bus
        if isinstance(event, sub.NotifyReceived):
            bus.emit(SubscriptionNotified(subscription, event.body, event.content_type,
                                          str(event.state), event.request))
            self._on_document(subscription, event)
        elif isinstance(event, sub.NotifyRejected):
            logger.info("%r: NOTIFY refused %d: %s", subscription, event.status, event.reason)
            bus.emit(SubscriptionNotifyRejected(subscription, event.status, event.reason,
                                                event.request))
        elif isinstance(event, sub.SubscriptionFailed):
            self._subscriptions.pop(subscription.id, None)
            status = event.status if event.status is not None else 408
            subscription._end(f"failed {status}")
            bus.emit(SubscriptionFailure(subscription, status, event.reason, event.response))
        elif isinstance(event, sub.SubscriptionTerminated):
            self._subscriptions.pop(subscription.id, None)
            subscription._end(event.reason)
            for key in [k for k, b in self._blf.items() if b.subscription is subscription]:
                del self._blf[key]
            bus.emit(SubscriptionEnded(subscription, event.reason, event.retry_after))
        elif isinstance(event, sub.SubscriptionRefreshFailed):
            logger.info("%r: refresh failed (%s); it lapses at %s unless refreshed",
                        subscription, event.status, event.expires_at)
            bus.emit(SubscriptionRefreshFailure(
                subscription, event.status if event.status is not None else 408,
                event.expires_at))

    def _on_document(self, subscription: Subscription, event: sub.NotifyReceived) -> None:
        document = event.document
        bus = self.phone.bus
        if isinstance(document, Pidf):
            identity = event.request.from_
            display = identity.display_name or ""
            uri = str(identity.uri)
            if document.online:
                bus.emit(PresenceOnline(subscription, display, uri, document.note or "",
                                        document))
            else:
                bus.emit(PresenceOffline(subscription, display, uri, document))
        elif isinstance(document, DialogInfo):
            for entry in document.dialogs:
                if entry.state is DialogPhase.TERMINATED:
                    self._blf.pop(entry.id, None)
                else:
                    self._blf[entry.id] = BlfDialog(document.entity, entry, subscription)
                direction = entry.direction.value if entry.direction is not None else ""
                bus.emit(DialogStateUpdated(subscription, document.entity, entry.state.value,
                                            entry.id, direction, entry))
        elif isinstance(document, MessageSummary):
            bus.emit(MessagesWaiting(subscription, document.account or subscription.target,
                                     document))

    def _on_server(self, event: UsageEvent) -> None:
        if isinstance(event, sub.SubscribeReceived):
            usage = self.phone.manager.usage(event.usage_id)
            assert isinstance(usage, sub.ServerSubscription)
            package = event.event.split(";", 1)[0].strip()
            if package == "presence":
                watcher = PresenceWatcher(self, usage, event.request)
                self._watchers[watcher.id] = watcher
                self.phone.bus.emit(PresenceSubscribeReceived(watcher, event.request))
            else:
                other = Watcher(self, usage, event.request)
                self._watchers[other.id] = other
                self.phone.bus.emit(WatcherSubscribed(other, event.request))
        elif isinstance(event, sub.SubscriptionEnded):
            ended = self._watchers.pop(event.usage_id, None)
            if ended is not None:
                ended.ended_reason = event.reason
                self.phone.bus.emit(WatcherEnded(ended, event.reason))
        elif isinstance(event, sub.NotifyFailed):
            logger.info("presence NOTIFY of subscription %d failed: %s", event.usage_id,
                        event.status)

    def _on_publication(self, publication: Publication, event: UsageEvent) -> None:
        if isinstance(event, pub.Published):
            publication._settle(None)
        elif isinstance(event, pub.PublicationFailed):
            status = event.status if event.status is not None else 408
            error: Exception
            if event.status is None:
                error = TransactionTimeout(f"PUBLISH for {publication.account.aor}: "
                                           f"{event.reason}")
            else:
                error = RequestFailed(f"PUBLISH for {publication.account.aor} answered "
                                      f"{status} {event.reason}", status=status,
                                      reason=event.reason, response=event.response)
            publication._settle(error)
            self.phone.bus.emit(PublicationFailure(publication, status, event.reason))
        elif isinstance(event, pub.Unpublished):
            self._publications.pop(publication.id, None)
            publication._settle(None)

    # --- shutdown -------------------------------------------------------------------------

    async def close(self, timeout: float = 2.0) -> None:
        """Unsubscribe, end watched subscriptions and remove publications (Phone.close)."""
        waits: list[asyncio.Future[object]] = []
        for subscription in list(self._subscriptions.values()):
            try:
                await subscription.terminate()
            except Exception as exc:
                logger.info("unsubscribing %r on close: %s", subscription, exc)
            waits.append(asyncio.ensure_future(subscription.ended()))
        for watcher in list(self._watchers.values()):
            if not watcher.live:
                continue
            try:
                watcher.terminate()
            except Exception as exc:
                logger.info("ending %r on close: %s", watcher, exc)
        for publication in list(self._publications.values()):
            if publication.etag is not None:
                waits.append(asyncio.ensure_future(publication.remove()))
        if waits:
            await asyncio.wait(waits, timeout=timeout)
            for wait in waits:
                if not wait.done():
                    wait.cancel()
                elif not wait.cancelled():
                    wait.exception()


__all__ = [
    "OFFLINE",
    "PACKAGES",
    "BlfDialog",
    "DialogStateUpdated",
    "MessagesWaiting",
    "PresenceMode",
    "PresenceOffline",
    "PresenceOnline",
    "PresenceSubscribeReceived",
    "PresenceWatcher",
    "Publication",
    "PublicationFailure",
    "Subscription",
    "SubscriptionEnded",
    "SubscriptionFailure",
    "SubscriptionNotified",
    "SubscriptionNotifyRejected",
    "SubscriptionRefreshFailure",
    "SubscriptionService",
    "Watcher",
    "WatcherEnded",
    "WatcherSubscribed",
]
