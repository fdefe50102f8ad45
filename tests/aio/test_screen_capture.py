"""Screen capture without a display: nothing to list, nothing to grab.

Proves: ``default_display`` strips the screen number from ``$DISPLAY`` and is None
without it; ``list_screens`` gives [] for no display or one nobody serves;
``ScreenCapture`` of such a screen raises ``ScreenCaptureError`` and bad sizes or
rates are refused. (Grabbing a real screen is proved under Xvfb in
tests/compat/test_portsip_screen.py.)
"""

from __future__ import annotations

import pytest

from voipkit.aio.screen_capture import (
    ScreenCapture,
    ScreenCaptureError,
    ScreenSource,
    default_display,
    list_screens,
)


def test_without_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    assert default_display() is None
    assert list_screens() == []
    monkeypatch.setenv("DISPLAY", ":7.1")
    assert default_display() == ":7"
    assert list_screens(":4093") == []
    source = ScreenSource(":4093", 0, 320, 240)
    assert source.title == "Screen 0 (320x240) on :4093" and source.url == ":4093.0"
    with pytest.raises(ScreenCaptureError):
        ScreenCapture(source, width=160, height=120, frame_rate=5)
    with pytest.raises(ValueError):
        ScreenCapture(source, width=161, height=120, frame_rate=5)
    with pytest.raises(ValueError):
        ScreenCapture(source, width=160, height=120, frame_rate=0)
