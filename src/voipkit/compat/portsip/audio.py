"""The manual's audio functions of ``PortSIPLib``: codecs, SRTP, audio effects,
recording, file playback, the audio conference, stream I/O (microphone and speaker
mute, channel volume scaling) and RTP statistics.

Knows: ``voipkit.api`` (the ``Phone`` audio setters, ``Call`` recording /
playback / statistics, ``Conference``, ``media_files.RecordMode``/``PlayMode``,
``config.SUPPORTED_CODECS``) and the vendor enums. Must not know: anything below
``api``. ``PortSIPLib`` inherits ``AudioFunctions``; the methods use its plumbing
(``_call``, ``_with_call``, ``_on_phone``, ``_post``, the session table), so they
marshal to the I/O loop and return 0 or a negative ``ErrorCode`` like every other
method. Parameters voipkit cannot honour (a codec this build cannot encode, AMR
recording files, video) are refused with ``INVALID_ARGUMENT`` and a log line.

The manual's ``void`` functions here (``clearAudioCodec``, ``enableVAD`` ...,
``destroyConference``) return 0 or a negative code too, so a ported program may
ignore the result and a new one may check it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from voipkit.api import Call, Phone, PlaybackFinished
from voipkit.api.conference import Conference
from voipkit.api.config import SUPPORTED_CODECS
from voipkit.api.errors import InvalidStateError
from voipkit.api.media_files import PlayMode, RecordMode
from voipkit.compat.portsip.codes import ErrorCode
from voipkit.compat.portsip.enums import AUDIOCODEC_TYPE, FILE_FORMAT, RECORD_MODE, SRTP_POLICY

if TYPE_CHECKING:
    from voipkit.compat.portsip.callbacks import SIPCallbackEvents
    from voipkit.compat.portsip.sessions import SessionTable

logger = logging.getLogger(__name__)

#: AUDIOCODEC_TYPE -> the codec's SDP name (RFC 3551 §6, RFC 7587, RFC 4867 ...).
CODEC_NAMES: dict[AUDIOCODEC_TYPE, str] = {
    AUDIOCODEC_TYPE.AUDIOCODEC_PCMU: "PCMU",
    AUDIOCODEC_TYPE.AUDIOCODEC_GSM: "GSM",
    AUDIOCODEC_TYPE.AUDIOCODEC_PCMA: "PCMA",
    AUDIOCODEC_TYPE.AUDIOCODEC_G722: "G722",
    AUDIOCODEC_TYPE.AUDIOCODEC_G729: "G729",
    AUDIOCODEC_TYPE.AUDIOCODEC_ILBC: "iLBC",
    AUDIOCODEC_TYPE.AUDIOCODEC_AMR: "AMR",
    AUDIOCODEC_TYPE.AUDIOCODEC_AMRWB: "AMR-WB",
    AUDIOCODEC_TYPE.AUDIOCODEC_SPEEX: "speex",
    AUDIOCODEC_TYPE.AUDIOCODEC_SPEEXWB: "speex/16000",
    AUDIOCODEC_TYPE.AUDIOCODEC_ISACWB: "ISAC",
    AUDIOCODEC_TYPE.AUDIOCODEC_ISACSWB: "ISAC/32000",
    AUDIOCODEC_TYPE.AUDIOCODEC_OPUS: "opus",
    AUDIOCODEC_TYPE.AUDIOCODEC_G7221: "G7221",
}
_USABLE = {name.upper(): name for name in SUPPORTED_CODECS if name.upper() != "CN"}
_DEFAULT_CODECS = (AUDIOCODEC_TYPE.AUDIOCODEC_PCMU, AUDIOCODEC_TYPE.AUDIOCODEC_PCMA)
"What a new Phone offers (``MediaConfig.codecs``' default), as the facade's list."
_RECORD_MODES = {RECORD_MODE.RECORD_RECV: RecordMode.RECV,
                 RECORD_MODE.RECORD_SEND: RecordMode.SEND,
                 RECORD_MODE.RECORD_BOTH: RecordMode.BOTH}
_EXTENSIONS = {FILE_FORMAT.FILEFORMAT_WAVE: (".wav",),
               FILE_FORMAT.FILEFORMAT_MP4: (".mp4", ".m4a")}
"The container of each FILE_FORMAT voipkit writes (AAC in MP4 for FILEFORMAT_MP4)."
_PLAY_MODES = {1: PlayMode.REPLACE, 2: PlayMode.MIX}
_PTIMES = range(10, 61, 10)
MAX_SCALING = 1000
"The manual's volume scaling range is [0, 1000] (setChannelInput/OutputVolumeScaling)."


class AudioFunctions:
    """Audio and media functions of the manual, mixed into ``PortSIPLib``."""

    if TYPE_CHECKING:  # provided by PortSIPLib
        _callbacks: SIPCallbackEvents
        _sessions: SessionTable

        def _call(self, fn: Callable[..., Coroutine[Any, Any, int]], *args: Any,
                  timeout: float = 30.0) -> int: ...
        def _require_phone(self) -> Phone: ...
        def _on_phone(self, action: Callable[[Phone], object]) -> int: ...
        def _with_call(self, session_id: int, action: Callable[[Call], Any]) -> int: ...
        def _post(self, callback: Callable[..., Any], *args: Any) -> None: ...

    def _reset_audio(self) -> None:
        """Forget the audio settings (a new Phone starts with voipkit's defaults)."""
        self._enabled_codecs: list[AUDIOCODEC_TYPE] = list(_DEFAULT_CODECS)
        "addAudioCodec's list, AUDIOCODEC_DTMF included; read by isAudioCodecEmpty."
        self._chosen_payload_types: set[str] = set()
        "Codecs whose payload type setAudioCodecPayloadType set (kept by addAudioCodec)."

    def _subscribe_audio(self, phone: Phone) -> None:
        self._reset_audio()
        phone.on(PlaybackFinished)(self._playback_finished)

    def _has_audio_codec(self) -> bool:
        """Whether a call can be offered or answered: a codec besides telephone-event."""
        return any(c is not AUDIOCODEC_TYPE.AUDIOCODEC_DTMF for c in self._enabled_codecs)

    def _refuse_without_codec(self, what: str) -> int | None:
        if self._has_audio_codec():
            return None
        logger.info("%s: no audio codec is enabled (clearAudioCodec was called and no "
                    "addAudioCodec followed)", what)
        return ErrorCode.CODEC_UNAVAILABLE

    # --- Audio codecs functions ---------------------------------------------------------

    def addAudioCodec(self, codecType: int) -> int:
        """Offer ``codecType`` too, after the codecs already enabled (it appears in SDP).

        AUDIOCODEC_DTMF is accepted: RFC 4733 telephone-event is always offered.
        A codec this build cannot encode gives INVALID_ARGUMENT (logged).
        """
        codec = _codec_type("addAudioCodec", codecType)
        if codec is None:
            return ErrorCode.INVALID_ARGUMENT
        if codec is not AUDIOCODEC_TYPE.AUDIOCODEC_DTMF and _usable("addAudioCodec",
                                                                     codec) is None:
            return ErrorCode.INVALID_ARGUMENT
        return self._call(self._add_codec, codec)

    async def _add_codec(self, codec: AUDIOCODEC_TYPE) -> int:
        phone = self._require_phone()
        enabled = self._enabled_codecs + ([] if codec in self._enabled_codecs else [codec])
        names = [_USABLE[CODEC_NAMES[c].upper()] for c in enabled
                 if c is not AUDIOCODEC_TYPE.AUDIOCODEC_DTMF]
        if names:
            phone.set_audio_codecs(names)
        name = names[-1] if codec is not AUDIOCODEC_TYPE.AUDIOCODEC_DTMF else ""
        taken = dict(phone.config.media.codec_payload_types)
        if (codec >= 96 and name and name not in self._chosen_payload_types
                and int(codec) not in (pt for n, pt in taken.items() if n != name)
                and int(codec) != phone.config.media.dtmf_payload_type):
            phone.set_audio_codec_payload_type(name, int(codec))  # PortSIP's own number
        self._enabled_codecs = enabled
        return 0

    def clearAudioCodec(self) -> int:
        """Remove every enabled codec; ``call`` and ``answerCall`` then give
        CODEC_UNAVAILABLE until addAudioCodec enables one again."""
        return self._call(self._clear_codecs)

    async def _clear_codecs(self) -> int:
        self._require_phone()
        self._enabled_codecs = []
        return 0

    def isAudioCodecEmpty(self) -> bool:
        """True when no audio codec (not even AUDIOCODEC_DTMF) is enabled."""
        return not self._enabled_codecs

    def setAudioCodecPayloadType(self, codecType: int, payloadType: int) -> int:
        """The RTP payload type (96-127) a dynamic codec (opus, AMR) is offered with."""
        codec = _codec_type("setAudioCodecPayloadType", codecType)
        if codec is None:
            return ErrorCode.INVALID_ARGUMENT
        if codec is AUDIOCODEC_TYPE.AUDIOCODEC_DTMF or codec < 96:
            logger.info("setAudioCodecPayloadType: %s has a static payload type "
                        "(telephone-event: 101)", codec.name)
            return ErrorCode.INVALID_ARGUMENT
        name = _usable("setAudioCodecPayloadType", codec)
        if name is None:
            return ErrorCode.INVALID_ARGUMENT
        return self._call(self._set_payload_type, name, payloadType)

    async def _set_payload_type(self, name: str, payload_type: int) -> int:
        self._require_phone().set_audio_codec_payload_type(name, payload_type)
        self._chosen_payload_types.add(name)
        return 0

    def setAudioCodecParameter(self, codecType: int, parameter: str) -> int:
        """The codec's a=fmtp parameters, e.g. ``"mode-set=0; octet-align=1"`` for AMR
        (``""`` restores the defaults)."""
        codec = _codec_type("setAudioCodecParameter", codecType)
        if codec is None:
            return ErrorCode.INVALID_ARGUMENT
        name = _usable("setAudioCodecParameter", codec)
        if name is None:
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: phone.set_audio_codec_parameter(name, parameter))

    # --- audio settings ------------------------------------------------------------------

    def setAudioSamples(self, ptime: int, maxPtime: int) -> int:
        """a=ptime and a=maxptime in ms: multiples of 10 in 10-60, maxPtime >= ptime."""
        if ptime not in _PTIMES or maxPtime not in _PTIMES or maxPtime < ptime:
            logger.info("setAudioSamples(%r, %r): both must be multiples of 10 within "
                        "10-60 and maxPtime >= ptime", ptime, maxPtime)
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: phone.set_audio_samples(ptime, maxPtime))

    def setAudioBitrate(self, sessionId: int, audioCodecType: int, bitrateKbps: int) -> int:
        """The call's bit rate of ``audioCodecType`` (opus, AMR) in kb/s, applied at once."""
        codec = _codec_type("setAudioBitrate", audioCodecType)
        if codec is None:
            return ErrorCode.INVALID_ARGUMENT
        name = _usable("setAudioBitrate", codec)
        if name is None:
            return ErrorCode.INVALID_ARGUMENT
        if isinstance(bitrateKbps, bool) or not isinstance(bitrateKbps, int):
            logger.info("setAudioBitrate: bitrateKbps %r is not an integer", bitrateKbps)
            return ErrorCode.INVALID_ARGUMENT
        return self._with_call(sessionId,
                               lambda call: call.set_audio_bitrate(name, bitrateKbps * 1000))

    def setSrtpPolicy(self, srtpPolicy: int, allowSrtpOverUnsecureTransport: bool) -> int:
        """SRTP for new calls: NONE, FORCE (SRTP or 488) or PREFER. SDES keys travel in
        the SDP, so over UDP/TCP they need ``allowSrtpOverUnsecureTransport`` (RFC 4568 §8.1)."""
        try:
            policy = SRTP_POLICY(srtpPolicy)
        except ValueError:
            logger.info("setSrtpPolicy: %r is not an SRTP_POLICY", srtpPolicy)
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: phone.set_srtp_policy(
            int(policy), bool(allowSrtpOverUnsecureTransport)))

    def setAudioRtcpBandwidth(self, sessionId: int, BitsRR: int, BitsRS: int,
                              KBitsAS: int) -> int:
        """RFC 3556 b=RR / b=RS (bits/s) and b=AS (kb/s) in the call's next offer/answer."""
        return self._with_call(sessionId, lambda call: call.set_audio_rtcp_bandwidth(
            BitsRR, BitsRS, KBitsAS))

    # --- Audio effect functions ----------------------------------------------------------

    def enableVAD(self, state: bool) -> int:
        """Voice activity detection: send nothing (or comfort noise, enableCNG) in silence."""
        return self._on_phone(lambda phone: phone.set_audio_processing(vad=bool(state)))

    def enableCNG(self, state: bool) -> int:
        """RFC 3389 comfort noise in the silences VAD finds (offers CN)."""
        return self._on_phone(lambda phone: phone.set_audio_processing(cng=bool(state)))

    def enableAEC(self, state: bool) -> int:
        """Acoustic echo cancellation of the captured audio."""
        return self._on_phone(lambda phone: phone.set_audio_processing(aec=bool(state)))

    def enableANS(self, state: bool) -> int:
        """Noise suppression of the captured audio."""
        return self._on_phone(lambda phone: phone.set_audio_processing(ans=bool(state)))

    def enableAGC(self, state: bool) -> int:
        """Automatic gain control of the captured audio."""
        return self._on_phone(lambda phone: phone.set_audio_processing(agc=bool(state)))

    # --- RTP and RTCP QoS ----------------------------------------------------------------

    def enableAudioQos(self, state: bool) -> int:
        """DSCP 46 (true) or no marking (false) on the audio sockets of new calls."""
        return self._on_phone(lambda phone: phone.set_audio_qos(bool(state)))

    # --- Record functions ----------------------------------------------------------------

    def startRecord(self, sessionId: int, recordFilePath: str, recordFileName: str,
                    appendTimestamp: bool, channels: int, recordFileFormat: int,
                    audioRecordMode: int, videoRecordMode: int) -> int:
        """Record the call's audio into ``recordFilePath/recordFileName``.

        ``recordFileFormat``: FILEFORMAT_WAVE (16-bit PCM ``.wav``) or FILEFORMAT_MP4
        (AAC in ``.mp4``/``.m4a``); the extension is added when the name has none.
        ``channels`` 1 mixes both parties, 2 puts ours left and theirs right.
        ``audioRecordMode``: RECORD_RECV, RECORD_SEND or RECORD_BOTH;
        ``videoRecordMode`` must be RECORD_NONE. ``appendTimestamp`` inserts
        ``_YYYYMMDD-HHMMSS`` before the extension.
        """
        path = _record_path(recordFilePath, recordFileName, recordFileFormat)
        if path is None:
            return ErrorCode.INVALID_ARGUMENT
        if channels not in (1, 2) or isinstance(channels, bool):
            logger.info("startRecord: channels %r is not 1 (mono) or 2 (stereo)", channels)
            return ErrorCode.INVALID_ARGUMENT
        try:
            video = RECORD_MODE(videoRecordMode)
            mode = RECORD_MODE(audioRecordMode)
        except ValueError:
            logger.info("startRecord: record modes %r / %r are not RECORD_MODE values",
                        audioRecordMode, videoRecordMode)
            return ErrorCode.INVALID_ARGUMENT
        if video is not RECORD_MODE.RECORD_NONE:
            logger.info("startRecord: videoRecordMode %s: this path records audio only "
                        "(video recordings are VideoFileFunctions', video_files.py)",
                        video.name)
            return ErrorCode.INVALID_ARGUMENT
        if mode is RECORD_MODE.RECORD_NONE:
            logger.info("startRecord: audioRecordMode RECORD_NONE records nothing")
            return ErrorCode.INVALID_ARGUMENT
        return self._with_call(sessionId, lambda call: call.start_record(
            path, mode=_RECORD_MODES[mode], stereo=channels == 2,
            append_timestamp=bool(appendTimestamp)))

    def stopRecord(self, sessionId: int) -> int:
        """Finalise the call's recording (INVALID_STATE when none runs)."""
        return self._with_call(sessionId, _stop_record)

    # --- Play audio file to remote / locally ----------------------------------------------

    def startPlayingFileToRemote(self, sessionId: int, fileName: str, loop: bool,
                                 playAudio: int) -> int:
        """Play an audio file (WAV, MP3, M4A, Ogg/Opus, FLAC ...) to the peer.

        ``playAudio`` 1 replaces the microphone, 2 mixes the file with it (0, the
        picture only, is for files with a video track: compat/portsip/video_files.py).
        Without ``loop``,
        onPlayFileFinished(sessionId, fileName) follows once the file has played.
        """
        mode = _PLAY_MODES.get(playAudio) if not isinstance(playAudio, bool) else None
        if mode is None:
            logger.info("startPlayingFileToRemote: playAudio %r is not 1 (play) or 2 (mix "
                        "with the microphone)", playAudio)
            return ErrorCode.INVALID_ARGUMENT
        return self._with_call(sessionId, lambda call: call.play_to_remote(
            fileName, loop=bool(loop), mode=mode))

    def stopPlayingFileToRemote(self, sessionId: int) -> int:
        """Stop the file playing to the peer (INVALID_STATE when none plays)."""
        return self._with_call(sessionId, _stop_playing)

    def startPlayingFileLocally(self, fileUrl: str, loop: bool, playVideoWindow: Any) -> int:
        """Play an audio file on the local audio device (``playVideoWindow``: 0 / None)."""
        if playVideoWindow:
            logger.info("startPlayingFileLocally: playVideoWindow %r is not a callable frame "
                        "sink (or %r has no video track to show in it)", playVideoWindow,
                        fileUrl)
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: phone.play_locally(fileUrl, loop=bool(loop)))

    def stopPlayingFileLocally(self) -> int:
        """Stop local playback (INVALID_STATE when nothing plays)."""
        return self._on_phone(_stop_playing_locally)

    def _playback_finished(self, event: PlaybackFinished) -> None:
        if event.completed:  # the manual: once the file played to its end, not on a stop
            self._post(self._callbacks.onPlayFileFinished, event.call.id, event.path)

    # --- Conference functions ------------------------------------------------------------

    def createAudioConference(self) -> int:
        """Create the audio conference (INVALID_STATE while one exists)."""
        return self._on_phone(lambda phone: phone.create_conference())

    def destroyConference(self) -> int:
        """End the conference; its calls send their own audio again."""
        return self._on_phone(lambda phone: _conference(phone).destroy())

    def joinToConference(self, sessionId: int) -> int:
        """Put a connected call into the conference (a held call is resumed first)."""
        return self._call(self._join, sessionId)

    async def _join(self, session_id: int) -> int:
        call = self._sessions.call(session_id)
        await _conference(self._require_phone()).join(call)
        return 0

    def removeFromConference(self, sessionId: int) -> int:
        """Take a call out of the conference."""
        return self._call(self._leave, sessionId)

    async def _leave(self, session_id: int) -> int:
        call = self._sessions.call(session_id)
        _conference(self._require_phone()).leave(call)
        return 0

    # --- Stream I/O functions ------------------------------------------------------------

    def muteMicrophone(self, mute: bool) -> int:
        """Mute the device microphone in every call, now and later, and as the
        conference's local member; files played to a peer and the conference mix a call
        sends keep flowing (the manual's ``void``: 0 or a negative code)."""
        return self._on_phone(lambda phone: phone.mute_microphone(bool(mute)))

    def muteSpeaker(self, mute: bool) -> int:
        """Mute the device speaker: the device plays silence for every call and the
        conference; recordings and what a call feeds into the conference are unchanged."""
        return self._on_phone(lambda phone: phone.mute_speaker(bool(mute)))

    def setChannelInputVolumeScaling(self, sessionId: int, scaling: int) -> int:
        """Scale the audio the call sends (its microphone signal), in percent: [0, 1000],
        100 unchanged; louder samples are clipped. INVALID_ARGUMENT outside the range."""
        if _bad_scaling("setChannelInputVolumeScaling", scaling):
            return ErrorCode.INVALID_ARGUMENT
        return self._with_call(sessionId, lambda call: call.set_volume_scaling(
            input=int(scaling)))

    def setChannelOutputVolumeScaling(self, sessionId: int, scaling: int) -> int:
        """Scale the audio the call receives (its channel's output), in percent: [0, 1000],
        100 unchanged; louder samples are clipped. INVALID_ARGUMENT outside the range."""
        if _bad_scaling("setChannelOutputVolumeScaling", scaling):
            return ErrorCode.INVALID_ARGUMENT
        return self._with_call(sessionId, lambda call: call.set_volume_scaling(
            output=int(scaling)))

    # --- RTP statistics functions --------------------------------------------------------

    def getStatistics(self, sessionId: int) -> int:
        """Raise onStatistics(sessionId, stat) with the call's statistics as JSON.

        ``stat`` holds ``time``, ``codec``, ``e_model`` and, for ``send`` and
        ``receive``: codec, packets, bytes, lost, fraction_lost, jitter_ms, rtt_ms,
        delay_ms, r_factor, mos; while enableSendPcmStreamToRemote is on, ``pcm_input``
        (rate, samples accepted, samples dropped by the 100 ms buffer, underruns).
        INVALID_STATE when the call has no audio yet.
        """
        return self._call(self._statistics, sessionId)

    async def _statistics(self, session_id: int) -> int:
        call = self._sessions.call(session_id)
        document = call.statistics_document()
        if not document:
            raise InvalidStateError(f"call {session_id} has no audio stream yet")
        stats = call.statistics()
        if "pcm_input_dropped" in stats:  # enableSendPcmStreamToRemote's buffer
            document["pcm_input"] = {"rate": stats["pcm_input_rate"],
                                     "samples": stats["pcm_input_samples"],
                                     "dropped": stats["pcm_input_dropped"],
                                     "underruns": stats["pcm_input_underruns"]}
        self._post(self._callbacks.onStatistics, session_id, json.dumps(document))
        return 0


def _bad_scaling(what: str, scaling: object) -> bool:
    if isinstance(scaling, bool) or not isinstance(scaling, int) \
            or not 0 <= scaling <= MAX_SCALING:
        logger.info("%s: scaling %r is not an integer in [0, %d]", what, scaling, MAX_SCALING)
        return True
    return False


def _codec_type(what: str, value: int) -> AUDIOCODEC_TYPE | None:
    try:
        codec = AUDIOCODEC_TYPE(value)
    except ValueError:
        codec = None
    if codec is None or codec is AUDIOCODEC_TYPE.AUDIOCODEC_NONE or isinstance(value, bool):
        logger.info("%s: %r is not an AUDIOCODEC_TYPE", what, value)
        return None
    return codec


def _usable(what: str, codec: AUDIOCODEC_TYPE) -> str | None:
    """The api's name of ``codec``, or None (logged) when this build cannot encode it."""
    name = _USABLE.get(CODEC_NAMES.get(codec, "").upper())
    if name is None:
        logger.info("%s: voipkit cannot encode %s; this build has %s", what, codec.name,
                    ", ".join(n for n in _USABLE.values()))
    return name


def _record_path(folder: str, name: str, file_format: int) -> str | None:
    try:
        extensions = _EXTENSIONS.get(FILE_FORMAT(file_format))
    except ValueError:
        extensions = None
    if extensions is None:
        logger.info("startRecord: recordFileFormat %r: voipkit writes FILEFORMAT_WAVE and "
                    "FILEFORMAT_MP4 (AAC) files, not AMR", file_format)
        return None
    if not folder or not os.path.isdir(folder):
        logger.info("startRecord: recordFilePath %r is not an existing folder", folder)
        return None
    if not name or os.path.basename(name) != name or name in (".", ".."):
        logger.info("startRecord: recordFileName %r is not a plain file name", name)
        return None
    extension = os.path.splitext(name)[1]
    if not extension:
        name += extensions[0]
    elif extension.lower() not in extensions:
        logger.info("startRecord: %r does not end with %s (recordFileFormat %s)", name,
                    " or ".join(extensions), FILE_FORMAT(file_format).name)
        return None
    return os.path.join(folder, name)


def _stop_record(call: Call) -> None:
    if call.stop_record() is None:
        raise InvalidStateError(f"call {call.id} is not being recorded")


def _stop_playing(call: Call) -> None:
    if not call.stop_playing():
        raise InvalidStateError(f"no file is playing to call {call.id}")


def _stop_playing_locally(phone: Phone) -> None:
    if not phone.stop_playing_locally():
        raise InvalidStateError("no file is playing locally")


def _conference(phone: Phone) -> Conference:
    conference = phone.conference
    if conference is None:
        raise InvalidStateError("there is no conference (createAudioConference)")
    return conference


__all__ = ["CODEC_NAMES", "AudioFunctions"]
