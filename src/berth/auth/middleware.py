"""ASGI authentication for the registry surface: it puts a Principal in scope, never authorizes.

Credentials that are present but bad are not answered here: the error is put in scope and the
surface renders it in its own shape when the handler asks who is calling.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from berth.auth.tokens import TokenSigner, basic_credentials
from berth.errors import BerthError, UnauthorizedError
from berth.types import Principal

__all__ = ["PRINCIPAL_KEY", "RegistryAuthentication", "principal_from_scope"]

PRINCIPAL_KEY = "berth.principal"
_ERROR_KEY = "berth.auth_error"

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class RegistryAuthentication:
    def __init__(self, app: ASGIApp, signer: TokenSigner, account: str) -> None:
        self.app = app
        self.signer = signer
        self.anonymous = Principal.anonymous(account)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self._authenticate(scope)
        await self.app(scope, receive, send)

    def _authenticate(self, scope: Scope) -> None:
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        scope[PRINCIPAL_KEY] = self.anonymous
        if header is None:
            return
        try:
            scope[PRINCIPAL_KEY] = self._principal(header.decode("latin-1"))
        except BerthError as error:
            scope[_ERROR_KEY] = error

    def _principal(self, header: str) -> Principal:
        credentials = basic_credentials(header)
        if credentials is None:
            raise UnauthorizedError("the registry accepts Basic credentials: AWS and a login token")
        user, password = credentials
        if user != "AWS":
            raise UnauthorizedError("the user name must be AWS; the password is a login token")
        return self.signer.verify(password)


def principal_from_scope(scope: Scope) -> Principal:
    """Who is calling; raises the authentication error if the credentials were bad."""
    error = scope.get(_ERROR_KEY)
    if error is not None:
        raise error
    principal: Principal = scope[PRINCIPAL_KEY]
    return principal
