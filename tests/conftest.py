"""Suite-wide settings.

Hypothesis runs derandomized (a fixed seed per test) so the suite is
deterministic in CI; set HYPOTHESIS_PROFILE=explore locally to search with fresh
randomness and more examples.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
