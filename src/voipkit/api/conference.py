"""The audio conference of a phone: its calls and the local device, mix-minus.

Knows: ``Call`` (state, hold, audio session, events), the per-call media chain
of ``api.media_files`` (``CallMedia``), the sans-IO
``media.conference.ConferenceBridge`` and its pacing driver
``aio.conference.ConferenceDriver``. Must not know: SIP messages, SDP or
sockets.

PortSIP names (the manual, "Conference functions"):
``createAudioConference`` is ``Conference.create(phone)`` (one per phone, like
the SDK's); ``joinToConference(sessionId)`` is ``await conference.join(call)``
(a held call is taken off hold first, as the manual says);
``removeFromConference`` is ``conference.leave(call)``; ``destroyConference`` is
``conference.destroy()``.

Routing. A joined call sends the bridge's mix for it (every other member:
the other calls and the local device, never itself) instead of its own
source, and its received audio goes into the bridge. Its previous source is
kept as the chain's base and is what it sends again after ``leave`` or
``destroy``. A call that ends leaves on its own. File playback and recording of
a joined call still work (they sit after the mix in the chain, see
``api.media_files``). The local device is a member with the driver's
``local_capture`` source (its microphone) and ``local_playout`` sink (its
speaker); both default to silence / nothing, the virtual device of a server.

Latency: less than one ptime into the bridge and one ptime out of it, plus the
bridge's resampler leads (see ``aio.conference``).
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, ClassVar

from voipkit.aio.conference import ConferenceDriver, MemberPort
from voipkit.api.call import CallState
from voipkit.api.errors import InvalidStateError
from voipkit.api.events import CallEnded
from voipkit.api.media_files import DEFAULT_RATE, CallMedia
from voipkit.media.conference import LOCAL_DEVICE, ConferenceBridge
from voipkit.media.ports import MediaSink, MediaSource

if TYPE_CHECKING:
    from voipkit.api.call import Call
    from voipkit.api.phone import Phone
    from voipkit.api.video_conference import VideoConference

logger = logging.getLogger(__name__)


class Conference:
    """A phone's audio conference (there is at most one per phone).

    Create with ``Conference.create(phone)``. Attributes:
        phone: the phone it belongs to.
        bridge: the ``ConferenceBridge`` (member settings: ``set_muted``,
            ``set_gain``, ``info`` ... keyed by call id or ``LOCAL_DEVICE``).
        driver: the ``ConferenceDriver`` ticking it.
    """

    _of_phone: ClassVar[weakref.WeakKeyDictionary[Phone, Conference]] = weakref.WeakKeyDictionary()

    def __init__(self, phone: Phone, driver: ConferenceDriver) -> None:
        self.phone = phone
        self.driver = driver
        self.bridge = driver.bridge
        self._calls: dict[int, tuple[Call, MemberPort]] = {}
        self.destroyed = False
        self.video: VideoConference | None = None
        "The video half (createVideoConference, api.video_conference); None: audio only."
        self._ended_handler = self._on_call_ended  # one bound method, so bus.off finds it

    @classmethod
    def create(
        cls,
        phone: Phone,
        *,
        sample_rate: int = 16000,
        local_capture: MediaSource | None = None,
        local_playout: MediaSink | None = None,
        local_device: bool = True,
    ) -> Conference:
        """Create the phone's conference and start its clock (createAudioConference).

        Args:
            sample_rate: the bridge's internal rate.
            local_capture: the local device's microphone (default: silence).
            local_playout: the local device's speaker (default: discarded).
            local_device: make the local device a member.

        Raises:
            InvalidStateError: the phone is not started, or already has a conference.
        """
        existing = cls._of_phone.get(phone)
        if existing is not None and not existing.destroyed:
            raise InvalidStateError("the phone already has a conference; destroy it first")
        bridge = ConferenceBridge(sample_rate, phone.config.media.ptime)
        driver = ConferenceDriver(phone.loop, bridge, local_capture=local_capture,
                                  local_playout=local_playout, local_rate=sample_rate)
        conference = cls(phone, driver)
        cls._of_phone[phone] = conference
        driver.start(with_local_device=local_device)
        return conference

    @classmethod
    def of(cls, phone: Phone) -> Conference | None:
        """The phone's live conference, if any."""
        conference = cls._of_phone.get(phone)
        return conference if conference is not None and not conference.destroyed else None

    @property
    def calls(self) -> list[Call]:
        """The calls in the conference, in joining order."""
        return [call for call, _ in self._calls.values()]

    def __contains__(self, call: object) -> bool:
        return any(c is call for c, _ in self._calls.values())

    async def join(self, call: Call) -> None:
        """Route ``call`` through the bridge (joinToConference); a held call is resumed.

        Raises:
            InvalidStateError: the conference is destroyed, the call is not
                connected, has no audio, or is already a member.
        """
        self._require_alive()
        if call.state is not CallState.CONNECTED:
            raise InvalidStateError(
                f"cannot join call {call.id} to the conference: it is {call.state.value}")
        if call.id in self._calls:
            raise InvalidStateError(f"call {call.id} is already in the conference")
        if call.local_hold:
            await call.unhold()
        media = CallMedia.of(call)
        stream = media.audio.stream
        rate = stream.config.codec.sample_rate if stream is not None else DEFAULT_RATE
        port = self.driver.attach(call.id, rate)
        media.conference = port
        self._calls[call.id] = (call, port)
        call.bus.on(CallEnded)(self._ended_handler)
        if self.video is not None:
            self.video.join(call)

    def leave(self, call: Call) -> None:
        """Take ``call`` out (removeFromConference): it sends its own source again.

        Raises:
            InvalidStateError: the call is not in the conference.
        """
        entry = self._calls.pop(call.id, None)
        if entry is None or entry[0] is not call:
            raise InvalidStateError(f"call {call.id} is not in the conference")
        self._unroute(call)

    def destroy(self) -> None:
        """Stop the bridge and give every call its own audio back (destroyConference)."""
        if self.destroyed:
            return
        self.destroyed = True
        if self.video is not None:
            self.video.destroy()
        calls = [call for call, _ in self._calls.values()]
        self._calls.clear()
        for call in calls:
            try:
                self._unroute(call)
            except Exception:
                logger.exception("conference: restoring the audio of call %s failed", call.id)
        self.driver.stop()
        if Conference._of_phone.get(self.phone) is self:
            del Conference._of_phone[self.phone]

    def _unroute(self, call: Call) -> None:
        call.bus.off(self._ended_handler)
        if self.video is not None:
            self.video.leave(call)
        self.driver.detach(call.id)
        media = CallMedia.existing(call)
        if media is not None:
            media.conference = None
            media.release_if_idle()

    def _on_call_ended(self, event: CallEnded) -> None:
        entry = self._calls.pop(event.call.id, None)
        if entry is not None:
            self._unroute(event.call)

    def _require_alive(self) -> None:
        if self.destroyed:
            raise InvalidStateError("the conference has been destroyed")


def destroy_conference(phone: Phone) -> bool:
    """Destroy the phone's conference (for ``Phone.close``); False if it had none."""
    conference = Conference.of(phone)
    if conference is None:
        return False
    conference.destroy()
    return True


__all__ = ["LOCAL_DEVICE", "Conference", "destroy_conference"]
