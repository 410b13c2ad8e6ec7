"""Counting failed sign-ins: limits per key, growing waits, quiet windows, clean-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from berth.meta.base import MetaStore
from berth.meta.sql import open_meta_store
from berth.services.sign_in_throttle import (
    LOOSE_FACTOR,
    SignInAttempt,
    SignInPolicy,
    SignInThrottle,
    client_network,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ALICE = SignInAttempt("user:alice", "198.51.100.7")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(meta: MetaStore, clock: Clock) -> SignInThrottle:
    return SignInThrottle(meta, clock, SignInPolicy())


async def fail(throttle: SignInThrottle, attempt: SignInAttempt, times: int) -> None:
    for _ in range(times):
        assert await throttle.admit(attempt) is None


async def test_five_failures_from_one_address_make_it_wait_a_minute(
    throttle: SignInThrottle, clock: Clock
) -> None:
    await fail(throttle, ALICE, 5)
    assert await throttle.admit(ALICE) == T0 + timedelta(minutes=1)
    elsewhere = SignInAttempt("user:alice", "203.0.113.9")
    assert await throttle.admit(elsewhere) is None
    clock.advance(seconds=59)
    assert await throttle.admit(ALICE) == T0 + timedelta(minutes=1)
    clock.advance(seconds=1)
    assert await throttle.admit(ALICE) is None


async def test_the_wait_doubles_with_each_further_failure_up_to_the_cap(
    throttle: SignInThrottle, clock: Clock
) -> None:
    await fail(throttle, ALICE, 5)
    waits = []
    for _ in range(6):
        retry_at = await throttle.admit(ALICE)
        assert retry_at is not None
        waits.append(retry_at - clock.now)
        clock.now = retry_at
        assert await throttle.admit(ALICE) is None
    minutes = [wait / timedelta(minutes=1) for wait in waits]
    assert minutes == [1, 2, 4, 8, 15, 15]


async def test_refused_attempts_do_not_count(throttle: SignInThrottle, clock: Clock) -> None:
    await fail(throttle, ALICE, 5)
    for _ in range(50):
        assert await throttle.admit(ALICE) == T0 + timedelta(minutes=1)
    clock.advance(minutes=1)
    await fail(throttle, ALICE, 1)
    assert await throttle.admit(ALICE) == clock.now + timedelta(minutes=2)


async def test_a_quiet_window_forgets_the_failures(throttle: SignInThrottle, clock: Clock) -> None:
    await fail(throttle, ALICE, 4)
    clock.advance(minutes=15)
    await fail(throttle, ALICE, 4)
    assert await throttle.admit(ALICE) is None
    assert await throttle.admit(ALICE) is not None


async def test_success_clears_the_identity(throttle: SignInThrottle) -> None:
    await fail(throttle, ALICE, 4)
    await throttle.succeeded(ALICE)
    await fail(throttle, ALICE, 4)
    await throttle.succeeded(ALICE)
    await fail(throttle, ALICE, 5)
    assert await throttle.admit(ALICE) is not None


async def test_a_right_secret_at_the_limit_still_signs_in_and_unblocks(
    throttle: SignInThrottle,
) -> None:
    await fail(throttle, ALICE, 5)
    await throttle.succeeded(ALICE)
    assert await throttle.admit(ALICE) is None


async def test_guesses_from_many_addresses_hit_the_looser_identity_limit(
    throttle: SignInThrottle,
) -> None:
    limit = 5 * LOOSE_FACTOR
    for n in range(limit):
        await fail(throttle, SignInAttempt("user:alice", f"192.0.2.{n}"), 1)
    assert await throttle.admit(SignInAttempt("user:alice", "192.0.2.200")) is not None
    assert await throttle.admit(SignInAttempt("user:bob", "192.0.2.200")) is None


async def test_a_known_device_is_not_locked_out_by_strangers(throttle: SignInThrottle) -> None:
    for n in range(5 * LOOSE_FACTOR):
        await fail(throttle, SignInAttempt("user:alice", f"192.0.2.{n}"), 1)
    own = SignInAttempt("user:alice", "198.51.100.7", known_device=True)
    assert await throttle.admit(own) is None
    await throttle.succeeded(own)
    await fail(throttle, own, 5)
    assert await throttle.admit(own) is not None


async def test_one_address_trying_many_identities_hits_the_address_limit(
    throttle: SignInThrottle,
) -> None:
    for n in range(5 * LOOSE_FACTOR):
        await fail(throttle, SignInAttempt(f"user:u{n}", "192.0.2.1"), 1)
    assert await throttle.admit(SignInAttempt("user:someone", "192.0.2.1")) is not None
    assert await throttle.admit(SignInAttempt("user:someone", "192.0.2.2")) is None


async def test_a_success_takes_back_only_its_own_attempt_at_the_address(
    throttle: SignInThrottle,
) -> None:
    for n in range(5 * LOOSE_FACTOR - 1):
        await fail(throttle, SignInAttempt(f"user:u{n}", "192.0.2.1"), 1)
    mine = SignInAttempt("user:me", "192.0.2.1")
    await fail(throttle, mine, 1)
    await throttle.succeeded(mine)
    await fail(throttle, SignInAttempt("user:other", "192.0.2.1"), 1)
    assert await throttle.admit(SignInAttempt("user:more", "192.0.2.1")) is not None


async def test_purge_drops_only_counters_that_no_longer_matter(
    meta: MetaStore, clock: Clock
) -> None:
    ten = timedelta(minutes=10)
    policy = SignInPolicy(window=timedelta(minutes=5), lockout=ten, max_lockout=ten)
    throttle = SignInThrottle(meta, clock, policy)
    await fail(throttle, ALICE, 5)
    await fail(throttle, SignInAttempt("user:bob", "192.0.2.1"), 1)
    clock.advance(minutes=5)
    assert await throttle.purge() == 0
    clock.advance(seconds=1)
    assert await throttle.purge() == 5
    assert await throttle.admit(ALICE) is not None
    clock.advance(minutes=10)
    assert await throttle.purge() == 1
    assert await throttle.admit(ALICE) is None


async def test_the_quiet_window_starts_when_the_wait_ends(
    throttle: SignInThrottle, clock: Clock
) -> None:
    await fail(throttle, ALICE, 5)
    clock.advance(minutes=1 + 14, seconds=59)
    await fail(throttle, ALICE, 1)
    assert await throttle.admit(ALICE) == clock.now + timedelta(minutes=2)


async def test_an_off_policy_admits_everything(meta: MetaStore, clock: Clock) -> None:
    throttle = SignInThrottle(meta, clock, SignInPolicy(max_failures=0))
    await fail(throttle, ALICE, 100)
    await throttle.succeeded(ALICE)
    assert await throttle.purge() == 0


async def test_two_nodes_share_the_counts(tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = await open_meta_store(url), await open_meta_store(url)
    try:
        nodes = [SignInThrottle(first, clock), SignInThrottle(second, clock)]
        for n in range(5):
            assert await nodes[n % 2].admit(ALICE) is None
        assert await nodes[1].admit(ALICE) is not None
        assert await nodes[0].admit(ALICE) is not None
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize(
    ("host", "network"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        (" 10.0.0.1 ", "10.0.0.1"),
        ("", ""),
        ("not an address" * 10, ("not an address" * 10)[:64]),
    ],
)
def test_client_network(host: str, network: str) -> None:
    assert client_network(host) == network
