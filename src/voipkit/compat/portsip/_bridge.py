"""The facade's threads: one asyncio loop for all I/O, one thread for user callbacks.

Knows: asyncio, threading and queue. Must not know: SIP or media — it runs
coroutines of ``voipkit.api`` objects and delivers callables in order.

The design removes pjsua2's deadlocks (style guide, example 12): library calls
from any thread are marshalled onto the loop with ``run_coroutine_threadsafe``
and waited for; callbacks are queued from the loop and run, in order, on a
dedicated callback thread, so a callback that calls back into the library
blocks only itself while the loop keeps running. Only raw media taps run on the
loop thread, and a library call from there is refused with a code instead of
deadlocking.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from voipkit.compat.portsip.codes import ErrorCode, to_code

logger = logging.getLogger(__name__)

T = TypeVar("T")
_STOP = object()


class Bridge:
    """Owns the loop thread and the callback thread of one PortSIPLib."""

    def __init__(self, *, name: str = "voipkit",
                 loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> None:
        self._loop = (loop_factory or asyncio.new_event_loop)()
        self._ready = threading.Event()
        self._loop_thread = threading.Thread(target=self._run_loop, name=f"{name}-loop",
                                             daemon=True)
        self._callbacks: queue.Queue[Any] = queue.Queue()
        self._callback_thread = threading.Thread(target=self._run_callbacks,
                                                 name=f"{name}-callbacks", daemon=True)
        self.callback_errors = 0
        "User callbacks that raised (each was logged with its traceback)."
        self._closed = False
        self._loop_thread.start()
        self._callback_thread.start()
        self._ready.wait()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def on_loop_thread(self) -> bool:
        return threading.current_thread() is self._loop_thread

    def on_callback_thread(self) -> bool:
        return threading.current_thread() is self._callback_thread

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()

    def call(self, fn: Callable[..., Coroutine[Any, Any, int]], *args: Any,
             timeout: float | None = 30.0) -> int:
        """Run ``fn(*args)`` on the loop and return its int, or a negative code."""
        if self._closed:
            return ErrorCode.NOT_INITIALIZED
        if self.on_loop_thread():
            return ErrorCode.CALLED_FROM_MEDIA_THREAD
        future = asyncio.run_coroutine_threadsafe(fn(*args), self._loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            return ErrorCode.TIMEOUT
        except Exception as exc:  # the one place exceptions become ints
            return to_code(exc)

    def run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any,
            timeout: float | None = 30.0) -> T:
        """Run ``fn(*args)`` on the loop and return its result (exceptions propagate)."""
        if self.on_loop_thread():
            raise RuntimeError("PortSIPLib was called from the I/O loop thread")
        return asyncio.run_coroutine_threadsafe(fn(*args), self._loop).result(timeout)

    def post(self, callback: Callable[..., Any], *args: Any) -> None:
        """Queue ``callback(*args)`` for the callback thread (safe from any thread)."""
        if not self._closed:
            self._callbacks.put((callback, args))

    def _run_callbacks(self) -> None:
        while True:
            item = self._callbacks.get()
            if item is _STOP:
                return
            callback, args = item
            try:
                callback(*args)
            except Exception:
                self.callback_errors += 1
                logger.exception("user callback %s raised", getattr(callback, "__name__", callback))

    def close(self, *, timeout: float = 10.0) -> None:
        """Deliver the callbacks already queued, then stop both threads."""
        if self._closed:
            return
        self._closed = True
        self._callbacks.put(_STOP)
        if not self.on_callback_thread():
            self._callback_thread.join(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout)
        if not self._loop_thread.is_alive():
            self._loop.close()
