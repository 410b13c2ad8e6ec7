"""Registry-wide settings ECR keeps per account: account settings and the registry policy.

Both live in the metadata store's settings. ``BLOB_MOUNTING`` decides whether a registry push may
mount a blob from another repository (when disabled, the client gets an upload session instead).
"""

from __future__ import annotations

from berth.errors import InvalidParameterError, RegistryPolicyNotFoundError
from berth.meta.base import MetaStore, Transaction

__all__ = [
    "ACCOUNT_SETTINGS",
    "BLOB_MOUNTING",
    "RegistryService",
    "account_setting",
    "blob_mounting_enabled",
]

BLOB_MOUNTING = "BLOB_MOUNTING"
ACCOUNT_SETTINGS: dict[str, tuple[tuple[str, ...], str]] = {
    "BASIC_SCAN_TYPE_VERSION": (("AWS_NATIVE", "CLAIR"), "AWS_NATIVE"),
    "REGISTRY_POLICY_SCOPE": (("V1", "V2"), "V2"),
    BLOB_MOUNTING: (("ENABLED", "DISABLED"), "ENABLED"),
}
"""Each account setting's allowed values and its default."""

_ACCOUNT_PREFIX = "ecr.account_setting."
_REGISTRY_POLICY_KEY = "ecr.registry_policy"


def _known(name: str) -> tuple[tuple[str, ...], str]:
    known = ACCOUNT_SETTINGS.get(name)
    if known is None:
        names = ", ".join(ACCOUNT_SETTINGS)
        raise InvalidParameterError(
            f"Invalid parameter at 'name' failed to satisfy constraint: "
            f"'Account setting name must be one of [{names}]'"
        )
    return known


async def account_setting(tx: Transaction, name: str) -> str:
    _, default = _known(name)
    stored = await tx.settings.get(_ACCOUNT_PREFIX + name)
    return default if stored is None else str(stored)


async def blob_mounting_enabled(tx: Transaction) -> bool:
    return await account_setting(tx, BLOB_MOUNTING) == "ENABLED"


class RegistryService:
    def __init__(self, meta: MetaStore, registry_id: str) -> None:
        self.meta = meta
        self.registry_id = registry_id

    async def get_account_setting(self, name: str) -> str:
        async with self.meta.read() as tx:
            return await account_setting(tx, name)

    async def put_account_setting(self, name: str, value: str) -> str:
        allowed, _ = _known(name)
        if value not in allowed:
            raise InvalidParameterError(
                f"Invalid parameter at 'value' failed to satisfy constraint: "
                f"'Value for {name} must be one of [{', '.join(allowed)}]'"
            )
        async with self.meta.transaction() as tx:
            await tx.settings.put(_ACCOUNT_PREFIX + name, value)
        return value

    async def registry_policy(self) -> str:
        async with self.meta.read() as tx:
            policy = await tx.settings.get(_REGISTRY_POLICY_KEY)
        if policy is None:
            raise self._no_policy()
        return str(policy)

    async def put_registry_policy(self, text: str) -> None:
        async with self.meta.transaction() as tx:
            await tx.settings.put(_REGISTRY_POLICY_KEY, text)

    async def delete_registry_policy(self) -> str:
        async with self.meta.transaction() as tx:
            policy = await tx.settings.get(_REGISTRY_POLICY_KEY)
            if policy is None:
                raise self._no_policy()
            await tx.settings.delete(_REGISTRY_POLICY_KEY)
        return str(policy)

    def _no_policy(self) -> RegistryPolicyNotFoundError:
        return RegistryPolicyNotFoundError(
            f"Registry policy does not exist in the registry with id '{self.registry_id}'"
        )
