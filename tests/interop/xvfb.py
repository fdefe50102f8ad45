"""A virtual X display (Xvfb) for the screen sharing tests, and a way to paint it.

Xvfb picks a free display number itself and writes it to a pipe once it accepts
clients (``-displayfd``), so two tests never race for ``:99``. It runs with
``-noreset`` (otherwise the server resets, and the root window turns black again,
whenever its last client - e.g. ``xsetroot`` - disconnects) and is stopped by PID.
``paint`` fills a screen's root window with one colour through ``xsetroot``.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
from collections.abc import Iterator, Sequence

from interop.peers import require, run_tool, stop_pid


@contextlib.contextmanager
def xvfb(screens: Sequence[tuple[int, int]] = ((320, 240),), *,
         timeout: float = 10.0) -> Iterator[str]:
    """Run Xvfb with ``screens`` (width, height; 24-bit) and yield its display (``:N``)."""
    binary = require("Xvfb")
    args = [binary, "-displayfd", "", "-nolisten", "tcp", "-noreset"]
    for index, (width, height) in enumerate(screens):
        args += ["-screen", str(index), f"{width}x{height}x24"]
    read_end, write_end = os.pipe()
    args[2] = str(write_end)
    proc = subprocess.Popen(args, pass_fds=(write_end,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            ready, _, _ = select.select([pipe], [], [], timeout)
            number = pipe.readline().decode().strip() if ready else ""
        if not number.isdigit():
            raise RuntimeError(f"Xvfb did not report a display within {timeout} s")
        yield f":{number}"
    finally:
        stop_pid(proc)


def paint(display: str, colour: str, screen: int = 0) -> None:
    """Fill the root window of ``display.screen`` with ``colour`` (``#rrggbb``)."""
    done = run_tool([require("xsetroot"), "-display", f"{display}.{screen}", "-solid",
                     colour], timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"xsetroot failed: {done.stderr.decode(errors='replace')}")


__all__ = ["paint", "xvfb"]
