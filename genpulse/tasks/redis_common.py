"""What every Redis-backed module of the store shares: the key prefix and the translation of Redis errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemoryError
from redis.exceptions import ReadOnlyError as RedisReadOnlyError
from redis.exceptions import ResponseError as RedisResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from genpulse.core.errors import ServiceUnavailable

P = "gp:"

# Error replies that mean "not now" rather than "wrong command": a replica that lost its master, a failed
# background save that blocks writes, a cluster or script that is busy.
_UNAVAILABLE = frozenset({"MASTERDOWN", "MISCONF", "LOADING", "TRYAGAIN", "CLUSTERDOWN", "BUSY", "NOREPLICAS"})


@contextlib.asynccontextmanager
async def translated() -> AsyncIterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise ServiceUnavailable(f"redis unavailable: {exc}") from None
    except (RedisReadOnlyError, RedisOutOfMemoryError) as exc:  # a failover in progress, or a full server
        raise ServiceUnavailable(f"redis refuses writes: {exc}", retry_after=1) from None
    except RedisResponseError as exc:
        if str(exc).split(" ", 1)[0] in _UNAVAILABLE:
            raise ServiceUnavailable(f"redis unavailable: {exc}", retry_after=1) from None
        raise
