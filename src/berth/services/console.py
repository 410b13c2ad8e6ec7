"""Console sign-in: the session signing key every node shares, and IAM users' console passwords.

Passwords are checked by the IAM service against the login profiles the IAM API keeps (scrypt
hashes, see ``berth.secrets``).
"""

from __future__ import annotations

import base64
import secrets

from berth.errors import UnauthorizedError
from berth.meta.base import MetaStore
from berth.services.identities import IdentityService
from berth.types import Principal, PrincipalKind

__all__ = ["SESSION_KEY_SETTING", "ConsoleSignIn", "session_key"]

SESSION_KEY_SETTING = "console_session_key"
_WRONG = "Your authentication information is incorrect. Please try again."


async def session_key(meta: MetaStore) -> bytes:
    """The console's cookie signing key; the first node to start creates it (first writer wins)."""
    async with meta.transaction() as tx:
        stored = await tx.settings.put_if_absent(
            SESSION_KEY_SETTING, base64.b64encode(secrets.token_bytes(32)).decode()
        )
    return base64.b64decode(stored)


class ConsoleSignIn:
    def __init__(self, meta: MetaStore, identities: IdentityService) -> None:
        self.meta = meta
        self.identities = identities
        self.account = identities.account

    async def with_password(self, user_name: str, password: str) -> Principal:
        """The IAM user whose console password this is, or UnauthorizedError."""
        checked = await self.identities.credentials.check_password(user_name, password)
        user = checked if user_name and password else None
        if user is None:
            raise UnauthorizedError(_WRONG)
        return Principal(
            kind=PrincipalKind.USER,
            account=self.account,
            arn=user.arn,
            user_id=user.id,
            name=user.name,
        )

    async def user_exists(self, user_id: str) -> bool:
        """True while the IAM user a password session belongs to still exists."""
        async with self.meta.read() as tx:
            return await tx.identities.users.get_by_id(user_id) is not None
