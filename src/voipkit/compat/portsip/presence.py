"""The manual's subscription, presence, MWI and BLF functions of ``PortSIPLib``.

Knows: ``voipkit.api`` (``phone.subscriptions``: ``SubscriptionService``, its
objects and events) and the vendor's names and return conventions. Must not
know: anything below ``api``. ``PortSIPLib`` inherits ``PresenceFunctions``; the
methods use its plumbing (``_call``, ``_on_phone``, ``_post``, the session table),
so they marshal to the I/O loop and return 0 (or a new id > 0) or a negative
``ErrorCode`` like every other method.

subscribeId values are the ids of ``api.Subscription`` (subscriptions we made:
sendSubscription, presenceSubscribe) and of ``api.PresenceWatcher`` (presence
subscriptions we received: onPresenceRecvSubscribe); both come from one counter,
so an id names exactly one of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from voipkit.api import (
    Account,
    Call,
    DialogStateUpdated,
    MessagesWaiting,
    Phone,
    PresenceMode,
    PresenceOffline,
    PresenceOnline,
    PresenceSubscribeReceived,
    SubscriptionEnded,
    SubscriptionFailure,
    SubscriptionNotified,
    SubscriptionRefreshFailure,
)
from voipkit.api.errors import NotFoundError
from voipkit.compat.portsip.codes import ErrorCode
from voipkit.compat.portsip.sessions import message_text

if TYPE_CHECKING:
    from voipkit.compat.portsip.callbacks import SIPCallbackEvents
    from voipkit.compat.portsip.sessions import SessionTable

logger = logging.getLogger(__name__)

_MAX_SECONDS = 86400 * 7
"The longest default subscription/publication time accepted (a week)."


class PresenceFunctions:
    """Subscription, presence, MWI and BLF functions of the manual, mixed into PortSIPLib."""

    if TYPE_CHECKING:  # provided by PortSIPLib
        _callbacks: SIPCallbackEvents
        _sessions: SessionTable
        _account: Account | None

        def _call(self, fn: Callable[..., Coroutine[Any, Any, int]], *args: Any,
                  timeout: float = 30.0) -> int: ...
        def _require_phone(self) -> Phone: ...
        def _on_phone(self, action: Callable[[Phone], object]) -> int: ...
        def _post(self, callback: Callable[..., Any], *args: Any) -> None: ...
        def _check_video_call(self, video: bool, what: str) -> bool: ...

    # --- Send OPTIONS/INFO/MESSAGE functions: subscriptions ----------------------------

    def sendSubscription(self, to: str, eventName: str) -> int:
        """SUBSCRIBE to ``eventName`` of ``to`` (``"100"``, ``"sip:101@test.com"``).

        Returns the subscribeId (> 0). NOTIFYs arrive in onRecvNotifyOfSubscription;
        ``message-summary`` also gives onWaitingVoiceMessage / onWaitingFaxMessage,
        ``dialog`` gives onDialogStateUpdated and ``presence`` onPresenceOnline /
        onPresenceOffline. The subscription refreshes itself before it expires.
        """
        if not to or not eventName or any(c in eventName for c in " \r\n,"):
            logger.info("sendSubscription: to %r / eventName %r is empty or malformed",
                        to, eventName)
            return ErrorCode.INVALID_ARGUMENT
        return self._call(self._subscribe_to, to, eventName, "")

    async def _subscribe_to(self, to: str, event: str, subject: str) -> int:
        account = self._account
        if account is None:
            return ErrorCode.NO_USER
        subscriptions = self._require_phone().subscriptions
        if event == "presence":
            subscription = await subscriptions.subscribe_presence(to, subject, account=account)
        else:
            subscription = await subscriptions.subscribe(to, event, account=account)
        return subscription.id

    def terminateSubscription(self, subscribeId: int) -> int:
        """Unsubscribe (SUBSCRIBE with Expires: 0); onSubscriptionTerminated follows."""
        return self._call(self._terminate, subscribeId)

    async def _terminate(self, subscribe_id: int) -> int:
        subscription = self._require_phone().subscriptions.subscription(subscribe_id)
        await subscription.terminate()
        return 0

    def setDefaultSubscriptionTime(self, secs: int) -> int:
        """Expires of new subscriptions, in seconds (default 3600)."""
        if isinstance(secs, bool) or not 0 < secs <= _MAX_SECONDS:
            logger.info("setDefaultSubscriptionTime: %r is not 1..%d seconds", secs,
                        _MAX_SECONDS)
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(
            lambda phone: setattr(phone.subscriptions, "default_subscription_expires", secs))

    def setDefaultPublicationTime(self, secs: int) -> int:
        """Expires of new publications (presence agent mode), in seconds (default 3600)."""
        if isinstance(secs, bool) or not 0 < secs <= _MAX_SECONDS:
            logger.info("setDefaultPublicationTime: %r is not 1..%d seconds", secs,
                        _MAX_SECONDS)
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(
            lambda phone: setattr(phone.subscriptions, "default_publication_expires", secs))

    def setPresenceMode(self, mode: int) -> int:
        """0: P2P (we NOTIFY our watchers), 1: presence agent (we PUBLISH, RFC 3903)."""
        try:
            wanted = PresenceMode(mode)
        except ValueError:
            logger.info("setPresenceMode: mode %r is not 0 (P2P) or 1 (presence agent)", mode)
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: setattr(phone.subscriptions, "presence_mode",
                                                    wanted))

    def enableAutoCheckMwi(self, state: bool) -> int:
        """Subscribe to our own message-summary after each successful registration."""
        return self._on_phone(lambda phone: phone.subscriptions.set_auto_check_mwi(bool(state)))

    # --- Presence functions ------------------------------------------------------------

    def presenceSubscribe(self, to: str, subject: str) -> int:
        """Watch ``to``'s presence; ``subject`` goes in a Subject header. Returns the id."""
        if not to or any(c in subject for c in "\r\n"):
            logger.info("presenceSubscribe: to %r is empty or the subject has a line break", to)
            return ErrorCode.INVALID_ARGUMENT
        return self._call(self._subscribe_to, to, "presence", subject)

    def presenceTerminateSubscribe(self, subscribeId: int) -> int:
        """Stop watching (our subscription) or end a watcher's subscription to us."""
        return self._call(self._presence_terminate, subscribeId)

    async def _presence_terminate(self, subscribe_id: int) -> int:
        subscriptions = self._require_phone().subscriptions
        try:
            subscription = subscriptions.subscription(subscribe_id)
        except NotFoundError:
            subscriptions.presence_watcher(subscribe_id).terminate()
            return 0
        await subscription.terminate()
        return 0

    def presenceAcceptSubscribe(self, subscribeId: int) -> int:
        """Accept a watcher (onPresenceRecvSubscribe): 200 and a NOTIFY of our status."""
        return self._on_phone(
            lambda phone: phone.subscriptions.presence_watcher(subscribeId).accept())

    def presenceRejectSubscribe(self, subscribeId: int) -> int:
        """Refuse a watcher (onPresenceRecvSubscribe) with 403 Forbidden."""
        return self._on_phone(
            lambda phone: phone.subscriptions.presence_watcher(subscribeId).reject(403))

    def setPresenceStatus(self, subscribeId: int, stateText: str) -> int:
        """Tell our presence: ``"Offline"`` appears offline (PIDF closed), anything else
        online with ``stateText`` as note.

        P2P mode: NOTIFY the watcher ``subscribeId``. Presence agent mode: pass 0; a
        PUBLISH goes to the account's server and this returns once it is accepted.
        """
        return self._call(self._set_presence, subscribeId, stateText, timeout=45.0)

    async def _set_presence(self, subscribe_id: int, text: str) -> int:
        subscriptions = self._require_phone().subscriptions
        if subscriptions.presence_mode is PresenceMode.P2P and subscribe_id == 0:
            logger.info("setPresenceStatus: in P2P mode pass the watcher's subscribeId "
                        "(from onPresenceRecvSubscribe), not 0")
            return ErrorCode.INVALID_ARGUMENT
        await subscriptions.set_presence(text, subscribe_id)
        return 0

    # --- Call functions: BLF pickup ----------------------------------------------------

    def pickupBLFCall(self, replaceDialogId: str, videoCall: bool) -> int:
        """Take over the dialog ``replaceDialogId`` that onDialogStateUpdated reported:
        an INVITE with Replaces to its remote party, offering video too when
        ``videoCall`` (and a video codec is enabled). Returns the new sessionId."""
        video = self._check_video_call(bool(videoCall), "pickupBLFCall")
        return self._call(self._pickup, replaceDialogId, video)

    async def _pickup(self, dialog_id: str, video: bool = False) -> int:
        call: Call = await self._require_phone().subscriptions.pickup(dialog_id, video=video)
        return self._sessions.add(call)

    # --- events -> callbacks -----------------------------------------------------------

    def _subscribe_presence(self, phone: Phone) -> None:
        handlers: dict[type[Any], Callable[[Any], None]] = {
            SubscriptionNotified: self._notified, SubscriptionFailure: self._sub_failed,
            SubscriptionEnded: self._sub_ended, PresenceSubscribeReceived: self._watcher,
            SubscriptionRefreshFailure: self._refresh_failed,
            PresenceOnline: self._online, PresenceOffline: self._offline,
            DialogStateUpdated: self._dialog_state, MessagesWaiting: self._mwi,
        }
        for event_type, handler in handlers.items():
            phone.on(event_type)(handler)

    def _notified(self, event: SubscriptionNotified) -> None:
        self._post(self._callbacks.onRecvNotifyOfSubscription, event.subscription.id,
                   message_text(event.request), event.body, len(event.body))

    def _sub_failed(self, event: SubscriptionFailure) -> None:
        self._post(self._callbacks.onSubscriptionFailure, event.subscription.id, event.status)

    def _refresh_failed(self, event: SubscriptionRefreshFailure) -> None:
        # the manual: onSubscriptionFailure is "triggered on sending SUBSCRIBE failure";
        # onSubscriptionTerminated follows when the subscription then lapses
        self._post(self._callbacks.onSubscriptionFailure, event.subscription.id, event.status)

    def _sub_ended(self, event: SubscriptionEnded) -> None:
        self._post(self._callbacks.onSubscriptionTerminated, event.subscription.id)

    def _watcher(self, event: PresenceSubscribeReceived) -> None:
        watcher = event.watcher
        self._post(self._callbacks.onPresenceRecvSubscribe, watcher.id,
                   watcher.remote.display_name or "", str(watcher.remote.uri), watcher.subject)

    def _online(self, event: PresenceOnline) -> None:
        self._post(self._callbacks.onPresenceOnline, event.display_name, event.uri, event.note)

    def _offline(self, event: PresenceOffline) -> None:
        self._post(self._callbacks.onPresenceOffline, event.display_name, event.uri)

    def _dialog_state(self, event: DialogStateUpdated) -> None:
        self._post(self._callbacks.onDialogStateUpdated, event.monitored, event.state,
                   event.dialog_id, event.direction)

    def _mwi(self, event: MessagesWaiting) -> None:
        summary = event.summary
        voice, fax = summary.voice, summary.fax
        if voice is not None or not summary.counts:  # no counts at all: "none waiting"
            new, old, urgent_new, urgent_old = (
                (voice.new, voice.old, voice.urgent_new, voice.urgent_old)
                if voice is not None else (0, 0, 0, 0))
            self._post(self._callbacks.onWaitingVoiceMessage, event.account, urgent_new,
                       urgent_old, new, old)
        if fax is not None:
            self._post(self._callbacks.onWaitingFaxMessage, event.account, fax.urgent_new,
                       fax.urgent_old, fax.new, fax.old)


__all__ = ["PresenceFunctions"]
