"""A typed event bus: subscribe by event *type*, so handlers are checked by mypy.

Knows: asyncio (handlers may be coroutines) and logging. Must not know: which
events exist — ``api.events`` defines them; Phone, Account and Call each own a bus.

Handlers registered for a class also receive its subclasses. A handler that
raises is logged with its traceback and counted (``bus.handler_errors``); it
never stops delivery to the others, and never disappears silently.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[E], Awaitable[None] | None]


class EventBus:
    """Delivers events to handlers by type and to ``events()`` iterators."""

    def __init__(self, *, parent: EventBus | None = None) -> None:
        self._handlers: list[tuple[type[Any], Callable[[Any], Any]]] = []
        self._queues: list[tuple[tuple[type[Any], ...], asyncio.Queue[Any]]] = []
        self._parent = parent
        self._tasks: set[asyncio.Task[None]] = set()
        self._wanted: dict[type[Any], bool] = {}  # wants() answers; cleared on every change
        self.handler_errors = 0
        "How many handler calls raised (each one was logged)."

    def on(self, event_type: type[E]) -> Callable[[Handler[E]], Handler[E]]:
        """Decorator: call the handler for every event of ``event_type`` (or a subclass)."""

        def register(handler: Handler[E]) -> Handler[E]:
            self._handlers.append((event_type, handler))
            self._wanted.clear()
            return handler

        return register

    def off(self, handler: Callable[[Any], Any]) -> None:
        """Stop calling ``handler``."""
        self._handlers = [(t, h) for t, h in self._handlers if h is not handler]
        self._wanted.clear()

    def wants(self, event_type: type[Any]) -> bool:
        """True when some handler or iterator here would receive an ``event_type`` event.

        Answered from a cache kept until the next ``on``/``off``/``events``/``wait_for``
        (the phone asks it for every SIP message it traces)."""
        wanted = self._wanted.get(event_type)
        if wanted is None:
            wanted = (any(issubclass(event_type, t) for t, _ in self._handlers)
                      or any(not types or issubclass(event_type, types)
                             for types, _ in self._queues))
            self._wanted[event_type] = wanted
        return wanted

    def emit(self, event: object) -> None:
        """Deliver ``event`` now (coroutine handlers are started as tasks), then to the parent."""
        for event_type, handler in list(self._handlers):
            if isinstance(event, event_type):
                self._call(handler, event)
        for types, queue in self._queues:
            if not types or isinstance(event, types):
                queue.put_nowait(event)
        if self._parent is not None:
            self._parent.emit(event)

    def _call(self, handler: Callable[[Any], Any], event: object) -> None:
        try:
            result = handler(event)
        except Exception:
            self.handler_errors += 1
            logger.exception("event handler %r failed on %s", handler, type(event).__name__)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.handler_errors += 1
            logger.error("event handler task failed", exc_info=exc)

    async def events(self, *types: type[Any]) -> AsyncIterator[Any]:
        """Iterate over events (of ``types``, or all) from now on, in order."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        entry = (types, queue)
        self._queues.append(entry)
        self._wanted.clear()
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(entry)
            self._wanted.clear()

    async def wait_for(self, event_type: type[E], predicate: Callable[[E], bool] | None = None,
                       *, timeout: float | None = None) -> E:
        """The next event of ``event_type`` (matching ``predicate``)."""
        future: asyncio.Future[E] = asyncio.get_running_loop().create_future()

        def check(event: E) -> None:
            if not future.done() and (predicate is None or predicate(event)):
                future.set_result(event)

        self._handlers.append((event_type, check))
        self._wanted.clear()
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.off(check)

    async def drain(self) -> None:
        """Wait for handler tasks started so far (used on shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
