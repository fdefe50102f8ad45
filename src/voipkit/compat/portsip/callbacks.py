"""``SIPCallbackEvents``: the callbacks of the PortSIP manual, each a no-op returning 0.

Knows: the vendor's callback names, parameters and order. Must not know: how
events are produced — ``lib.py`` turns ``voipkit.api`` events into these calls.

Subclass and override what you need (style guide, example 12: no pure virtuals).
Every callback runs on the library's callback thread, one at a time and in the
order the events happened, so it may call any ``PortSIPLib`` method (answerCall
from onInviteIncoming, hangUp from onInviteConnected ...). An exception raised
here is logged with its traceback and counted (``PortSIPLib.callback_errors``).
The manual's ``StringBuilder`` message parameters are ``str`` of the whole message.
The returned int is ignored, as in the vendor SDK. Only callbacks that voipkit can
really raise exist here; docs/api-coverage.md lists the rest as not yet.
"""

from __future__ import annotations


class SIPCallbackEvents:
    """Base class of the application's callback handler (all defaults do nothing)."""

    def onRegisterSuccess(self, statusText: str, statusCode: int, sipMessage: str) -> int:
        """A REGISTER succeeded (also each refresh)."""
        return 0

    def onRegisterFailure(self, statusText: str, statusCode: int, sipMessage: str) -> int:
        """A REGISTER failed; ``sipMessage`` is "" when no response arrived (statusCode 408)."""
        return 0

    def onInviteIncoming(
            self, sessionId: int, callerDisplayName: str, caller: str, calleeDisplayName: str,
            callee: str, audioCodecNames: str, videoCodecNames: str, existsAudio: bool,
            existsVideo: bool, sipMessage: str,
    ) -> int:
        """A call arrived; answer with answerCall, refuse with rejectCall (both allowed in here)."""
        return 0

    def onInviteTrying(self, sessionId: int) -> int:
        """Our INVITE got 100 Trying."""
        return 0

    def onInviteSessionProgress(
            self, sessionId: int, audioCodecNames: str, videoCodecNames: str,
            existsEarlyMedia: bool, existsAudio: bool, existsVideo: bool, sipMessage: str,
    ) -> int:
        """Our INVITE got 183 Session Progress."""
        return 0

    def onInviteRinging(
            self, sessionId: int, statusText: str, statusCode: int, sipMessage: str,
    ) -> int:
        """Our INVITE got another provisional response (180 Ringing ...)."""
        return 0

    def onInviteAnswered(
            self, sessionId: int, callerDisplayName: str, caller: str, calleeDisplayName: str,
            callee: str, audioCodecNames: str, videoCodecNames: str, existsAudio: bool,
            existsVideo: bool, sipMessage: str,
    ) -> int:
        """Our call was answered (2xx)."""
        return 0

    def onInviteFailure(
            self, sessionId: int, callerDisplayName: str, caller: str, calleeDisplayName: str,
            callee: str, reason: str, code: int, sipMessage: str,
    ) -> int:
        """Our call failed with ``code`` (408 when nothing answered); the session is gone."""
        return 0

    def onInviteUpdated(
            self, sessionId: int, audioCodecNames: str, videoCodecNames: str, existsAudio: bool,
            existsVideo: bool, existsScreen: bool, sipMessage: str,
    ) -> int:
        """The remote party updated the call (re-INVITE completed)."""
        return 0

    def onInviteConnected(self, sessionId: int) -> int:
        """The ACK went out or came in: hold, updateCall, sendDtmf ... work from now on."""
        return 0

    def onInviteBeginingForward(self, forwardTo: str) -> int:
        """An incoming call was forwarded by enableCallForward (vendor spelling)."""
        return 0

    def onInviteClosed(self, sessionId: int) -> int:
        """The call ended from the far side (BYE, CANCEL, timeout), not by our own hangUp."""
        return 0

    def onRemoteHold(self, sessionId: int) -> int:
        """The peer put the call on hold."""
        return 0

    def onRemoteUnHold(
            self, sessionId: int, audioCodecNames: str, videoCodecNames: str, existsAudio: bool,
            existsVideo: bool,
    ) -> int:
        """The peer took the call off hold."""
        return 0

    def onReceivedSignaling(self, sessionId: int, signaling: str) -> int:
        """A SIP message arrived (enableCallbackSignaling); sessionId -1: no call (yet)."""
        return 0

    def onSendingSignaling(self, sessionId: int, signaling: str) -> int:
        """A SIP message was sent (enableCallbackSignaling); sessionId -1: no call."""
        return 0

    def onRecvDtmfTone(self, sessionId: int, tone: int) -> int:
        """A DTMF tone arrived (RFC 4733 or INFO): 0-9, 10 ``*``, 11 ``#``, 12-15 A-D, 16 FLASH."""
        return 0

    def onRecvOptions(self, optionsMessage: str) -> int:
        """An out-of-dialog OPTIONS arrived (it was answered 200)."""
        return 0

    def onRecvInfo(self, infoMessage: str) -> int:
        """An in-dialog INFO with a supported body arrived (DTMF INFO: onRecvDtmfTone)."""
        return 0

    # --- Refer events -----------------------------------------------------------------

    def onReceivedRefer(self, sessionId: int, referId: int, to: str, from_: str,
                        referSipMessage: str) -> int:
        """A REFER arrived (sessionId -1: outside any call); acceptRefer or rejectRefer it.

        ``to`` is the refer target, ``from_`` its sender (the manual's ``from``, a
        Python keyword: it is passed by position)."""
        return 0

    def onReferAccepted(self, sessionId: int) -> int:
        """The transferee accepted our REFER (2xx)."""
        return 0

    def onReferRejected(self, sessionId: int, reason: str, code: int) -> int:
        """The transferee refused our REFER (code 408: no answer)."""
        return 0

    def onTransferTrying(self, sessionId: int) -> int:
        """The transferee is calling the target (NOTIFY "100 Trying")."""
        return 0

    def onTransferRinging(self, sessionId: int) -> int:
        """The transfer target rings (NOTIFY 18x)."""
        return 0

    def onACTVTransferSuccess(self, sessionId: int) -> int:
        """The transfer target answered (NOTIFY 2xx)."""
        return 0

    def onACTVTransferFailure(self, sessionId: int, reason: str, code: int) -> int:
        """The transferred call failed (code 408: the report never came)."""
        return 0

    # --- MESSAGE events ------------------------------------------------------------------

    def onRecvMessage(self, sessionId: int, mimeType: str, subMimeType: str,
                      messageData: bytes, messageDataLength: int) -> int:
        """A MESSAGE arrived in a call (it was answered 200)."""
        return 0

    def onRecvOutOfDialogMessage(self, fromDisplayName: str, from_: str, toDisplayName: str,
                                 to: str, mimeType: str, subMimeType: str,
                                 messageData: bytes, messageDataLength: int) -> int:
        """A MESSAGE arrived outside any call (``from_``: the manual's ``from``, by position)."""
        return 0

    def onSendMessageSuccess(self, sessionId: int, messageId: int) -> int:
        """A MESSAGE sent with sendMessage was delivered (2xx)."""
        return 0

    def onSendMessageFailure(self, sessionId: int, messageId: int, reason: str,
                             code: int) -> int:
        """A MESSAGE sent with sendMessage was not delivered (code 408: no answer)."""
        return 0

    def onSendOutOfDialogMessageSuccess(self, messageId: int, fromDisplayName: str,
                                        from_: str, toDisplayName: str, to: str) -> int:
        """A MESSAGE sent with sendOutOfDialogMessage was delivered (2xx)."""
        return 0

    def onSendOutOfDialogMessageFailure(self, messageId: int, fromDisplayName: str,
                                        from_: str, toDisplayName: str, to: str, reason: str,
                                        code: int) -> int:
        """A MESSAGE sent with sendOutOfDialogMessage was not delivered."""
        return 0

    def onPlayFileFinished(self, sessionId: int, fileName: str) -> int:
        """A file started by startPlayingFileToRemote (without loop) has played to its end."""
        return 0

    def onStatistics(self, sessionId: int, stat: str) -> int:
        """getStatistics' answer: the call's RTP statistics as a JSON object (see getStatistics)."""
        return 0

    def onRTPPacketCallback(self, sessionId: int, mediaType: int, direction: int,
                            RTPPacket: bytes, packetSize: int) -> int:
        """An RTP packet of the call was sent (DIRECTION_SEND) or accepted (DIRECTION_RECV),
        unprotected (enableRtpCallback); mediaType 0 is audio."""
        return 0

    def onAudioRawCallback(self, sessionId: int, callbackType: int, data: bytes,
                           dataLength: int, samplingFreqHz: int) -> int:
        """A frame of the call's audio, 16-bit little-endian mono, as sent (callbackType
        DIRECTION_SEND) or as played (DIRECTION_RECV) (enableAudioStreamCallback)."""
        return 0

    def onVideoRawCallback(self, sessionId: int, callbackType: int, width: int, height: int,
                           data: bytes, dataLength: int) -> int:
        """A frame of the call's video, I420, as sent (callbackType DIRECTION_SEND) or as
        decoded from the peer (DIRECTION_RECV) (enableVideoStreamCallback)."""
        return 0

    # --- subscriptions, presence, MWI, BLF (compat/portsip/presence.py) -----------------

    def onRecvNotifyOfSubscription(self, subscribeId: int, notifyMsg: str,
                                   contentData: bytes, contentLenght: int) -> int:
        """A NOTIFY of subscription ``subscribeId`` arrived (answered 200); ``notifyMsg`` is
        the whole message, ``contentData`` its body (vendor spelling ``contentLenght``)."""
        return 0

    def onSubscriptionFailure(self, subscribeId: int, statusCode: int) -> int:
        """The SUBSCRIBE was refused with ``statusCode`` (408: no answer); it is gone."""
        return 0

    def onSubscriptionTerminated(self, subscribeId: int) -> int:
        """The subscription ended (unsubscribed, expired, or ended by the notifier)."""
        return 0

    def onPresenceRecvSubscribe(self, subscribeId: int, fromDisplayName: str, from_: str,
                                subject: str) -> int:
        """Someone subscribed to our presence (P2P mode): presenceAcceptSubscribe or
        presenceRejectSubscribe (both allowed in here). ``from_`` is the manual's ``from``."""
        return 0

    def onPresenceOnline(self, fromDisplayName: str, from_: str, stateText: str) -> int:
        """A contact we watch is online or changed its status text."""
        return 0

    def onPresenceOffline(self, fromDisplayName: str, from_: str) -> int:
        """A contact we watch went offline."""
        return 0

    def onDialogStateUpdated(self, BLFMonitoredUri: str, BLFDialogState: str,
                             BLFDialogId: str, BLFDialogDirection: str) -> int:
        """A monitored user's dialog changed (BLF): state trying/proceeding/early/confirmed/
        terminated, direction initiator/recipient; pickupBLFCall takes ``BLFDialogId``."""
        return 0

    def onWaitingVoiceMessage(self, messageAccount: str, urgentNewMessageCount: int,
                              urgentOldMessageCount: int, newMessageCount: int,
                              oldMessageCount: int) -> int:
        """A message-summary NOTIFY gave voice-mail counts (all 0: nothing waiting)."""
        return 0

    def onWaitingFaxMessage(self, messageAccount: str, urgentNewMessageCount: int,
                            urgentOldMessageCount: int, newMessageCount: int,
                            oldMessageCount: int) -> int:
        """A message-summary NOTIFY gave fax counts."""
        return 0
