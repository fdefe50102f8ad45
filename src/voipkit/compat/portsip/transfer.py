"""The manual's Refer functions and MESSAGE functions of ``PortSIPLib``, with their callbacks.

Knows: ``voipkit.api`` (``transfer``: Call.refer, out_of_dialog_refer,
IncomingRefer and the transfer events; ``messaging``: send_message,
Call.send_message, add_supported_type and the message events) and the vendor's
names and return conventions. Must not know: anything below ``api``.
``PortSIPLib`` inherits ``TransferFunctions``; the methods use its plumbing
(``_call``, ``_with_call``, ``_post``, the session table), so they marshal to
the I/O loop and return 0, a new id (> 0) or a negative ``ErrorCode``.

Callbacks: onReceivedRefer, onReferAccepted, onReferRejected, onTransferTrying,
onTransferRinging, onACTVTransferSuccess, onACTVTransferFailure (sessionId is
the transferred call; for outOfDialogRefer, the replaced one), onRecvMessage,
onRecvOutOfDialogMessage, onSendMessageSuccess/Failure and
onSendOutOfDialogMessageSuccess/Failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from voipkit.api import (
    Account,
    Call,
    ConfigurationError,
    MessageDelivered,
    MessageFailed,
    MessageReceived,
    NotFoundError,
    Phone,
    ReferAccepted,
    ReferReceived,
    ReferRejected,
    TransferFailed,
    TransferRinging,
    TransferSucceeded,
    TransferTrying,
    messaging,
    transfer,
)
from voipkit.compat.portsip.codes import ErrorCode

if TYPE_CHECKING:
    from voipkit.compat.portsip.callbacks import SIPCallbackEvents
    from voipkit.compat.portsip.sessions import SessionTable

logger = logging.getLogger(__name__)

_NO_SESSION = -1
"onReceivedRefer's sessionId for a REFER outside any call."


def _content(function: str, mime_type: str, sub_mime_type: str, message: bytes | str,
             length: int) -> tuple[str, bytes] | None:
    """(content type, body) of sendMessage/sendOutOfDialogMessage, or None (logged) if bad."""
    if not mime_type or not sub_mime_type or "/" in mime_type + sub_mime_type:
        logger.info("%s: %r / %r is not a type and subtype", function, mime_type,
                    sub_mime_type)
        return None
    data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    if isinstance(length, bool) or not 0 <= length <= len(data):
        logger.info("%s: messageLength %r is outside 0-%d", function, length, len(data))
        return None
    return f"{mime_type}/{sub_mime_type}", data[:length]


def _split_type(content_type: str) -> tuple[str, str]:
    bare = content_type.split(";")[0].strip()
    kind, _, sub = bare.partition("/")
    return kind, sub


class TransferFunctions:
    """Refer and MESSAGE functions of the manual, mixed into ``PortSIPLib``."""

    if TYPE_CHECKING:  # provided by PortSIPLib
        _callbacks: SIPCallbackEvents
        _sessions: SessionTable
        _account: Account | None

        def _call(self, fn: Callable[..., Coroutine[Any, Any, int]], *args: Any,
                  timeout: float = 30.0) -> int: ...
        def _require_phone(self) -> Phone: ...
        def _with_call(self, session_id: int, action: Callable[[Call], Any]) -> int: ...
        def _post(self, callback: Callable[..., Any], *args: Any) -> None: ...

    # --- Refer functions ------------------------------------------------------------------

    def refer(self, sessionId: int, referTo: str) -> int:
        """Blind transfer: REFER the peer to ``referTo`` ("sip:number@server" or "number")."""
        return self._call(self._refer, sessionId, referTo, None, None, None)

    def attendedRefer(self, sessionId: int, replaceSessionId: int, referTo: str) -> int:
        """Attended transfer: Refer-To ``referTo`` carries the Replaces of ``replaceSessionId``."""
        return self._call(self._refer, sessionId, referTo, replaceSessionId, None, None)

    def attendedRefer2(self, libSDK: object, sessionId: int, replaceSessionId: int,
                       replaceMethod: str, target: str, referTo: str) -> int:
        """attendedRefer with ``method=replaceMethod`` in Refer-To and ``target`` as the
        REFER's request line. ``libSDK`` is the vendor's SDK handle: this object is it."""
        if libSDK is not None and libSDK is not self:
            logger.info("attendedRefer2: libSDK must be None or this PortSIPLib")
            return ErrorCode.INVALID_ARGUMENT
        return self._call(self._refer, sessionId, referTo, replaceSessionId,
                          replaceMethod or None, target or None)

    async def _refer(self, session_id: int, refer_to: str, replace_id: int | None,
                     method: str | None, target: str | None) -> int:
        call = self._sessions.call(session_id)
        replaces = self._sessions.call(replace_id) if replace_id is not None else None
        await call.refer(refer_to, replaces=replaces, method=method, request_target=target)
        return 0

    def outOfDialogRefer(self, replaceSessionId: int, replaceMethod: str, target: str,
                         referTo: str) -> int:
        """Send a REFER outside any dialog to ``target``; Refer-To ``referTo`` carries the
        Replaces of ``replaceSessionId`` (and ``method=replaceMethod``)."""
        return self._call(self._out_of_dialog_refer, replaceSessionId, replaceMethod,
                          target, referTo)

    async def _out_of_dialog_refer(self, replace_id: int, method: str, target: str,
                                   refer_to: str) -> int:
        replaces = self._sessions.call(replace_id)
        await transfer.out_of_dialog_refer(self._require_phone(), replaces, method or None,
                                           target, refer_to, account=self._account)
        return 0

    def acceptRefer(self, referId: int, referSignalingMessage: str) -> int:
        """Accept a REFER from onReceivedRefer: 202, then the request its Refer-To asks for.

        Returns the new call's sessionId (> 0) for INVITE (the usual case), the
        sessionId of the call it hangs up for ``method=BYE``, and 0 for MESSAGE or
        OPTIONS (no call); see ``voipkit.api.transfer``.
        """
        return self._call(self._accept_refer, referId)

    async def _accept_refer(self, refer_id: int) -> int:
        refer = transfer.incoming_refer(self._require_phone(), refer_id)
        if refer is None:
            raise NotFoundError(f"no pending REFER has id {refer_id}")
        call = await refer.accept(account=self._account)
        if call is None:
            return 0
        return call.id if call.id in self._sessions else self._sessions.add(call)

    def rejectRefer(self, referId: int) -> int:
        """Refuse a REFER from onReceivedRefer (603 Decline)."""
        return self._call(self._reject_refer, referId)

    async def _reject_refer(self, refer_id: int) -> int:
        refer = transfer.incoming_refer(self._require_phone(), refer_id)
        if refer is None:
            raise NotFoundError(f"no pending REFER has id {refer_id}")
        await refer.reject(603)
        return 0

    # --- MESSAGE functions --------------------------------------------------------------

    def sendMessage(self, sessionId: int, mimeType: str, subMimeType: str,
                    message: bytes | str, messageLength: int) -> int:
        """Send a MESSAGE in the call; returns its messageId (> 0)."""
        content = _content("sendMessage", mimeType, subMimeType, message, messageLength)
        if content is None:
            return ErrorCode.INVALID_ARGUMENT
        return self._call(self._send_message, sessionId, *content)

    async def _send_message(self, session_id: int, content_type: str, body: bytes) -> int:
        sent = await self._sessions.call(session_id).send_message(body, content_type)
        return sent.id

    def sendOutOfDialogMessage(self, to: str, mimeType: str, subMimeType: str, isSMS: bool,
                               message: bytes | str, messageLength: int) -> int:
        """Send a MESSAGE outside any call (``isSMS``: messagetype=SMS on To); its messageId."""
        content = _content("sendOutOfDialogMessage", mimeType, subMimeType, message,
                           messageLength)
        if content is None:
            return ErrorCode.INVALID_ARGUMENT
        return self._call(self._send_out_of_dialog, to, bool(isSMS), *content)

    async def _send_out_of_dialog(self, to: str, sms: bool, content_type: str,
                                  body: bytes) -> int:
        phone = self._require_phone()
        if self._account is None and not to.lower().startswith(("sip:", "sips:")) \
                and "@" not in to:
            raise ConfigurationError(f"{to!r} needs a domain: call setUser first")
        sent = await messaging.send_message(phone, to, body, content_type,
                                            account=self._account, sms=sms)
        return sent.id

    def _add_message_type(self, content_type: str) -> int:
        """addSupportedMimeType("MESSAGE", ...): take MESSAGE bodies of ``content_type``."""

        async def add() -> int:
            messaging.add_supported_type(self._require_phone(), content_type)
            return 0

        return self._call(add)

    # --- events -> callbacks (on the loop) -----------------------------------------------

    def _subscribe_transfer(self, phone: Phone) -> None:
        handlers: dict[type[Any], Callable[[Any], None]] = {
            ReferReceived: self._refer_received, ReferAccepted: self._refer_accepted,
            ReferRejected: self._refer_rejected, TransferTrying: self._transfer_trying,
            TransferRinging: self._transfer_ringing,
            TransferSucceeded: self._transfer_succeeded, TransferFailed: self._transfer_failed,
            MessageReceived: self._message_received,
            MessageDelivered: self._message_delivered, MessageFailed: self._message_failed,
        }
        for event_type, handler in handlers.items():
            phone.on(event_type)(handler)

    def _refer_received(self, event: ReferReceived) -> None:
        refer = event.refer
        session_id = refer.call.id if refer.call is not None else _NO_SESSION
        self._post(self._callbacks.onReceivedRefer, session_id, refer.id,
                   str(refer.refer_to.uri), str(refer.request.from_.uri),
                   bytes(refer.request).decode("utf-8", "replace"))

    def _refer_accepted(self, event: ReferAccepted) -> None:
        self._post(self._callbacks.onReferAccepted, event.call.id)

    def _refer_rejected(self, event: ReferRejected) -> None:
        self._post(self._callbacks.onReferRejected, event.call.id, event.reason, event.status)

    def _transfer_trying(self, event: TransferTrying) -> None:
        self._post(self._callbacks.onTransferTrying, event.call.id)

    def _transfer_ringing(self, event: TransferRinging) -> None:
        self._post(self._callbacks.onTransferRinging, event.call.id)

    def _transfer_succeeded(self, event: TransferSucceeded) -> None:
        self._post(self._callbacks.onACTVTransferSuccess, event.call.id)

    def _transfer_failed(self, event: TransferFailed) -> None:
        self._post(self._callbacks.onACTVTransferFailure, event.call.id, event.reason,
                   event.status)

    def _message_received(self, event: MessageReceived) -> None:
        message = event.message
        assert isinstance(message, messaging.IncomingMessage)
        kind, sub = _split_type(message.content_type)
        if message.call is not None:
            self._post(self._callbacks.onRecvMessage, message.call.id, kind, sub,
                       message.body, len(message.body))
            return
        sender, recipient = message.sender, message.recipient
        self._post(self._callbacks.onRecvOutOfDialogMessage, sender.display_name or "",
                   str(sender.uri), recipient.display_name or "", str(recipient.uri), kind,
                   sub, message.body, len(message.body))

    def _message_delivered(self, event: MessageDelivered) -> None:
        message = event.message
        assert isinstance(message, messaging.OutgoingMessage)
        if message.call is not None:
            self._post(self._callbacks.onSendMessageSuccess, message.call.id, message.id)
            return
        self._post(self._callbacks.onSendOutOfDialogMessageSuccess, message.id,
                   *_parties(message))

    def _message_failed(self, event: MessageFailed) -> None:
        message = event.message
        assert isinstance(message, messaging.OutgoingMessage)
        if message.call is not None:
            self._post(self._callbacks.onSendMessageFailure, message.call.id, message.id,
                       event.reason, event.status)
            return
        self._post(self._callbacks.onSendOutOfDialogMessageFailure, message.id,
                   *_parties(message), event.reason, event.status)


def _parties(message: messaging.OutgoingMessage) -> tuple[str, str, str, str]:
    sender, recipient = message.sender, message.recipient
    return (sender.display_name or "", str(sender.uri), recipient.display_name or "",
            str(recipient.uri))


__all__ = ["TransferFunctions"]
