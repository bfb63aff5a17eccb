"""Test configuration: a derandomized hypothesis profile for CI, and shared fixtures."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile(os.environ.get("AMVERIFY_HYPOTHESIS_PROFILE", "ci"))

# The derivation cache keys on source files and cannot see code patched in memory, which tests do; the suite
# runs with it off (tests/test_derivation_cache.py turns it on in a temporary folder of its own).
os.environ["AMVERIFY_NO_CACHE"] = "1"
