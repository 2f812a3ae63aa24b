from typing import Any

from django.core.cache import cache

# Where the last comparison is kept: the shared (database) cache every process reads.
CHECK_KEY = "titanic:registry-champion-check"


def registry_check_latest() -> dict[str, Any] | None:
    """The last stored champion-alias comparison (None: never checked), one cache read."""
    found = cache.get(CHECK_KEY)
    return found if isinstance(found, dict) else None
