"""Throttling of failed console sign-ins, shared by every worker and node through the database.

Each attempt is counted under three keys: the identity it names from the client's address (the
tight limit), the identity from anywhere and the address for any identity (each four times as
loose). An attempt is counted *before* its secret is checked, in the same transaction that reads
the counters, so parallel guesses cannot slip past the limit; a sign-in that succeeds takes its
count back. Once a key reaches its limit, sign-ins under it are refused, without checking the
secret, for a delay that doubles with each further failure up to a cap; refused attempts are not
counted. A key quiet for a whole window after its last failure and its wait starts again from
zero. docs/ui.md gives the
reasoning.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from berth.meta.base import MetaStore, SignInFailure

__all__ = ["SignInAttempt", "SignInPolicy", "SignInThrottle", "client_network"]

LOOSE_FACTOR = 4
"""How many more failures the per-identity and per-address keys allow than the per-pair key."""

_IPV6_PREFIX = 64


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    max_failures: int = 5
    """Failures of one identity from one address before it waits; 0 turns throttling off."""
    window: timedelta = timedelta(minutes=15)
    """A key with no failure for this long starts again from zero."""
    lockout: timedelta = timedelta(minutes=1)
    max_lockout: timedelta = timedelta(minutes=15)

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0

    def delay(self, failures: int, limit: int) -> timedelta:
        """How long a key that has just reached ``failures`` (at least ``limit``) waits."""
        doublings = min(max(failures - limit, 0), 30)
        lockout: timedelta = self.lockout * (1 << doublings)
        return min(lockout, self.max_lockout)


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    identity: str
    """Who the form names: ``key:AKID...`` or ``user:name`` (user names without case)."""
    address: str
    """The client's network, as ``client_network`` gives it."""
    known_device: bool = False
    """The browser shows a device cookie from an earlier sign-in of this identity: only the
    per-pair key applies, so strangers cannot lock its owner out from everywhere."""


def client_network(host: str) -> str:
    """The address a client is counted under: an IPv4 address, or an IPv6 address's /64 (one
    subscriber's share, which a guesser could otherwise walk through)."""
    try:
        address = ipaddress.ip_address(host.strip())
    except ValueError:
        return host.strip()[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, _IPV6_PREFIX), strict=False))
    return str(address)


def _quiet_since(counter: SignInFailure) -> datetime:
    """When the key's last failure, or the wait it earned, ended."""
    if counter.blocked_until is None:
        return counter.last_at
    return max(counter.last_at, counter.blocked_until)


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()


class SignInThrottle:
    def __init__(
        self, meta: MetaStore, clock: Callable[[], datetime], policy: SignInPolicy | None = None
    ) -> None:
        self.meta = meta
        self.clock = clock
        self.policy = policy or SignInPolicy()

    def _limits(self, attempt: SignInAttempt) -> dict[str, int]:
        tight = self.policy.max_failures
        limits = {_key("pair", attempt.identity, attempt.address): tight}
        if not attempt.known_device:
            limits[_key("identity", attempt.identity)] = tight * LOOSE_FACTOR
            limits[_key("address", attempt.address)] = tight * LOOSE_FACTOR
        return limits

    async def admit(self, attempt: SignInAttempt) -> datetime | None:
        """Count the attempt as a failure (``succeeded`` takes it back) and return None; or, if
        one of its keys is waiting, count nothing and return when sign-ins are heard again."""
        if not self.policy.enabled:
            return None
        limits, now = self._limits(attempt), self.clock()
        async with self.meta.transaction() as tx:
            held = await tx.sign_in_failures.lock(list(limits), now)
            counters = {key: self._current(held[key], now) for key in limits}
            waits = [c.blocked_until for c in counters.values() if c.blocked_until is not None]
            if waits:
                idle = [key for key, counter in counters.items() if counter.failures == 0]
                await tx.sign_in_failures.delete(idle)
                return max(waits)
            await tx.sign_in_failures.put(
                [self._failed(counter, limits[key], now) for key, counter in counters.items()]
            )
        return None

    async def succeeded(self, attempt: SignInAttempt) -> None:
        """The secret was right: the identity's counts are cleared, the address's attempt taken
        back (an address trying many identities stays counted for the others)."""
        if not self.policy.enabled:
            return
        limits, now = self._limits(attempt), self.clock()
        address = _key("address", attempt.address)
        async with self.meta.transaction() as tx:
            await tx.sign_in_failures.delete([key for key in limits if key != address])
            if address not in limits:
                return
            counter = (await tx.sign_in_failures.lock([address], now))[address]
            failures = max(counter.failures - 1, 0)
            if failures == 0:
                await tx.sign_in_failures.delete([address])
                return
            blocked = counter.blocked_until if failures >= limits[address] else None
            await tx.sign_in_failures.put(
                [replace(counter, failures=failures, blocked_until=blocked)]
            )

    async def purge(self) -> int:
        """Drop counters that can no longer refuse or count anything; how many."""
        now = self.clock()
        async with self.meta.transaction() as tx:
            return await tx.sign_in_failures.purge(now - self.policy.window)

    def _current(self, counter: SignInFailure, now: datetime) -> SignInFailure:
        """The counter as it stands at ``now``: its wait over, or forgotten after a quiet window."""
        if counter.blocked_until is not None and counter.blocked_until > now:
            return counter
        if _quiet_since(counter) <= now - self.policy.window:
            return replace(counter, failures=0, blocked_until=None)
        return replace(counter, blocked_until=None)

    def _failed(self, counter: SignInFailure, limit: int, now: datetime) -> SignInFailure:
        failures = counter.failures + 1
        blocked = now + self.policy.delay(failures, limit) if failures >= limit else None
        return SignInFailure(counter.key, failures, now, blocked)
