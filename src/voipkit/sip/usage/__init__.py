"""Dialog usages (reSIProcate DUM's model, made sans-IO): one object per piece of SIP work.

Knows: the transaction/dialog core of ``voipkit.sip``. Must not know: sockets,
clocks, SDP content or media — an invite session carries bodies as opaque
bytes with their content type, and the ``api`` layer negotiates them.
"""

from voipkit.sip.usage.base import Usage, UsageEvent, UsageHost
from voipkit.sip.usage.manager import ManagerEvent, UsageFactory, UsageManager

__all__ = ["ManagerEvent", "Usage", "UsageEvent", "UsageFactory", "UsageHost", "UsageManager"]
