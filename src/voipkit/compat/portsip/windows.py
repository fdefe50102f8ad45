"""Frames on their way to the facade's windows: a short queue per window.

Knows: that a window is a callable frame sink the facade calls on its callback thread
(``_post``), and ``VideoFrame``. Must not know: calls, sessions, anything below ``api``.

A window that paints slower than frames arrive must not make the callback thread's
queue grow without bound (every frame of every call would wait there, and the other
callbacks behind them). So each window object gets one ``WindowFeed``: at most
``depth`` frames wait for it; a new frame arriving at a full feed pushes out the
oldest waiting one (a window wants the newest picture), and ``dropped`` counts those.
Only one drain job per window is on the callback thread's queue at a time; it hands
the window every waiting frame in order. ``PortSIPLib.window_drops(window)`` reads the
count.

``onVideoRawCallback`` (enableVideoStreamCallback / enableScreenStreamCallback) goes
through the same kind of feed, one per stream, session and direction, ``RAW_DEPTH``
deep: an application slower than the frames loses the oldest, counted in
``PortSIPLib.raw_video_drops(sessionId)``, instead of growing the callback queue.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from voipkit.api.video import VideoFrame

DEFAULT_DEPTH = 2
"Frames that may wait for one window (the newest ones)."

RAW_DEPTH = 8
"Frames that may wait for onVideoRawCallback of one stream, session and direction."


class WindowFeed:
    """The bounded queue of one window.

    Args:
        window: the frame sink.
        post: runs a job on the callback thread (``PortSIPLib._post``).
        depth: how many frames may wait (at least 1).

    Attributes:
        dropped: frames pushed out before the window saw them.
        delivered: frames handed to the window.
    """

    def __init__(self, window: Callable[[VideoFrame], object],
                 post: Callable[..., None], depth: int = DEFAULT_DEPTH) -> None:
        if depth < 1:
            raise ValueError(f"a window queue holds at least one frame, not {depth}")
        self.window = window
        self.depth = depth
        self.dropped = 0
        self.delivered = 0
        self._post = post
        self._pending: deque[VideoFrame] = deque()
        self._scheduled = False
        self._lock = threading.Lock()

    def __call__(self, frame: VideoFrame) -> None:
        """Queue ``frame`` (any thread, usually the I/O loop's)."""
        with self._lock:
            if len(self._pending) >= self.depth:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append(frame)
            if self._scheduled:
                return
            self._scheduled = True
        self._post(self._drain)

    def _drain(self) -> None:
        """Hand the window every waiting frame (the callback thread)."""
        while True:
            with self._lock:
                if not self._pending:
                    self._scheduled = False
                    return
                frame = self._pending.popleft()
            try:
                self.window(frame)
            except BaseException:
                with self._lock:  # the bridge logs and counts it; keep the feed going
                    if self._pending:
                        self._post(self._drain)
                    else:
                        self._scheduled = False
                raise
            self.delivered += 1

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)


class WindowFeeds:
    """One ``WindowFeed`` per window object (the same window on two calls shares it)."""

    def __init__(self, post: Callable[..., None], depth: int = DEFAULT_DEPTH) -> None:
        self._post = post
        self.depth = depth
        self._feeds: dict[Any, WindowFeed] = {}
        self._lock = threading.Lock()
        self.owner: object = None
        "What ``post`` belongs to (the facade's callback bridge of this initialize)."

    @staticmethod
    def _key(window: object) -> Any:
        try:
            hash(window)
        except TypeError:
            return ("id", id(window))
        return window

    def feed(self, window: Callable[[VideoFrame], object]) -> WindowFeed:
        with self._lock:
            key = self._key(window)
            found = self._feeds.get(key)
            if found is None:
                found = self._feeds[key] = WindowFeed(window, self._post, self.depth)
            return found

    def dropped(self, window: object) -> int:
        with self._lock:
            found = self._feeds.get(self._key(window))
            return found.dropped if found is not None else 0


__all__ = ["DEFAULT_DEPTH", "WindowFeed", "WindowFeeds"]


class RawFrameFeeds:
    """The bounded queues of ``onVideoRawCallback``: one per (stream, session, direction)."""

    def __init__(self, depth: int = RAW_DEPTH) -> None:
        self.depth = depth
        self._feeds: dict[tuple[str, int, int], WindowFeed] = {}
        self._lock = threading.Lock()

    def feed(self, key: tuple[str, int, int], deliver: Callable[[VideoFrame], object],
             post: Callable[..., None]) -> WindowFeed:
        """A new feed for ``key`` (``("video" | "screen", sessionId, direction)``); the drops
        of the feed it replaces stay counted."""
        feed = WindowFeed(deliver, post, self.depth)
        with self._lock:
            old = self._feeds.get(key)
            if old is not None:
                feed.dropped = old.dropped
            self._feeds[key] = feed
        return feed

    def dropped(self, session_id: int) -> int:
        """Frames of ``session_id`` that never reached onVideoRawCallback."""
        with self._lock:
            return sum(f.dropped for (_, sid, _), f in self._feeds.items() if sid == session_id)
