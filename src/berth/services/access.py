"""The one authorization entry point every surface calls: may this principal do this action here?

It gathers what AWS would weigh (the caller's identity policies, permissions boundary and session
policies; the repository's policy and tags; the request's context) and asks the pure engine in
``berth.iam``. Policies are parsed once and cached briefly, so a decision costs no parsing and,
within the cache's lifetime, no database round trip.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from berth.errors import AccessDeniedError, MalformedPolicyDocumentError, UnauthorizedError
from berth.iam import AuthorizationRequest, Decision, NamedPolicy, Policy, PolicyKind, evaluate
from berth.iam import parse_policy as parse
from berth.meta.base import MetaStore, Repository
from berth.meta.cache import TtlCache
from berth.services.audit import AuditLog, is_write
from berth.services.telemetry import NoTelemetry, Telemetry
from berth.types import Principal

__all__ = ["AccessService", "Origin", "PolicyResolver", "PolicyView", "RequestContext"]

log = logging.getLogger("berth.access")

RequestContext = Mapping[str, str | list[str] | bool | int | None]
"""Extra condition keys a request brings (``aws:RequestTag/x``, ``aws:TagKeys``, ...)."""

_REPOSITORY_PREFIX = ":repository/"
_CACHE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from, for conditions (``aws:SourceIp``) and the audit log."""

    source_ip: str = ""
    request_id: str = ""
    secure_transport: bool = False


class PolicyView(Protocol):
    """What the identity service knows about a principal's policies."""

    @property
    def identity_policies(self) -> tuple[NamedPolicy, ...]: ...
    @property
    def permissions_boundary(self) -> Policy | None: ...
    @property
    def session_policies(self) -> tuple[Policy, ...]: ...
    @property
    def role_arn(self) -> str | None: ...
    @property
    def principal_tags(self) -> Mapping[str, str]: ...
    @property
    def active(self) -> bool: ...


class PolicyResolver(Protocol):
    async def policies_for(self, principal: Principal) -> PolicyView: ...


@dataclass(frozen=True, slots=True)
class _NoPolicies:
    identity_policies: tuple[NamedPolicy, ...] = ()
    permissions_boundary: Policy | None = None
    session_policies: tuple[Policy, ...] = ()
    role_arn: str | None = None
    principal_tags: Mapping[str, str] = field(default_factory=dict)
    active: bool = True


@dataclass(frozen=True, slots=True)
class _Resource:
    policy: Policy | None
    tags: tuple[tuple[str, str], ...]


_NO_RESOURCE = _Resource(None, ())


class AccessService:
    def __init__(
        self,
        account: str,
        region: str,
        meta: MetaStore,
        clock: Callable[[], datetime],
        *,
        resolver: PolicyResolver | None = None,
        audit: AuditLog | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.account = account
        self.telemetry = telemetry or NoTelemetry()
        self.region = region
        self.meta = meta
        self.clock = clock
        self.resolver = resolver
        self.audit = audit
        self._resources: TtlCache[_Resource] = TtlCache(_CACHE_SECONDS)
        self._parsed: dict[str, Policy | None] = {}
        self._formatted: tuple[int, str] = (-1, "")

    def repository_arn(self, name: str) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account}:repository/{name}"

    async def authorize(
        self,
        principal: Principal,
        action: str,
        resource: str,
        *,
        context: RequestContext | None = None,
        origin: Origin | None = None,
        resource_policy: Policy | None = None,
    ) -> None:
        """Return if allowed; raise UnauthorizedError (anonymous) or AccessDeniedError.

        ``resource_policy`` stands in for the resource's own policy where the resource is not a
        repository: a role's trust policy for ``sts:AssumeRole``.
        """
        try:
            decision = await self.decide(
                principal,
                action,
                resource,
                context=context,
                origin=origin,
                resource_policy=resource_policy,
            )
        except UnauthorizedError as error:
            self.telemetry.authorization("invalid-credentials")
            self._record(
                principal,
                action,
                resource,
                "invalid-credentials",
                origin=origin,
                message=error.message,
            )
            raise
        self.telemetry.authorization(decision.outcome.value)
        if not decision.allowed or is_write(action):
            message = "" if decision.allowed else decision.message
            self._record(
                principal, action, resource, decision.outcome.value, origin=origin, message=message
            )
        if decision.allowed:
            return
        if principal.is_anonymous:
            raise UnauthorizedError("authentication required", detail=decision.message)
        raise AccessDeniedError(decision.message)

    async def allows(
        self,
        principal: Principal,
        action: str,
        resource: str,
        *,
        context: RequestContext | None = None,
    ) -> bool:
        decision = await self.decide(principal, action, resource, context=context)
        self.telemetry.authorization(decision.outcome.value)
        return decision.allowed

    async def allows_on(
        self,
        principal: Principal,
        action: str,
        repository: Repository,
        *,
        context: RequestContext | None = None,
    ) -> bool:
        """``allows`` for a repository the caller has just read: its policy and tags as read."""
        target = _Resource(self._policy(repository.policy), repository.resource_tags)
        arn = self.repository_arn(repository.name)
        decision = await self._decide(principal, action, arn, target, context=context)
        return decision.allowed

    async def decide(
        self,
        principal: Principal,
        action: str,
        resource: str,
        *,
        context: RequestContext | None = None,
        origin: Origin | None = None,
        resource_policy: Policy | None = None,
    ) -> Decision:
        """The engine's decision, with what AWS would weigh for this request."""
        target = await self._resource(resource)
        if resource_policy is not None:
            target = _Resource(resource_policy, target.tags)
        return await self._decide(
            principal, action, resource, target, context=context, origin=origin
        )

    async def _decide(
        self,
        principal: Principal,
        action: str,
        resource: str,
        target: _Resource,
        *,
        context: RequestContext | None = None,
        origin: Origin | None = None,
    ) -> Decision:
        view = await self._policies(principal)
        if not view.active:
            raise UnauthorizedError("the credentials used to sign this request are no longer valid")
        request = AuthorizationRequest(
            principal=principal,
            action=action,
            resource=resource,
            resource_account=self.account,
            context=self._context(view, target, context, origin),
            identity_policies=view.identity_policies,
            resource_policy=target.policy,
            permissions_boundary=view.permissions_boundary,
            session_policies=view.session_policies,
            role_arn=view.role_arn,
        )
        return evaluate(request)

    def _record(
        self,
        principal: Principal,
        action: str,
        resource: str,
        outcome: str,
        *,
        origin: Origin | None,
        message: str,
    ) -> None:
        if self.audit is None:
            return
        origin = origin or Origin()
        self.audit.record(
            principal.arn,
            action,
            resource,
            outcome,
            source_ip=origin.source_ip,
            request_id=origin.request_id,
            message=message,
        )

    def forget_resource(self, resource: str) -> None:
        """Drop a cached repository policy at once (after this node changed it)."""
        self._resources.forget(resource)

    async def _policies(self, principal: Principal) -> PolicyView:
        if self.resolver is None or principal.is_root or principal.is_anonymous:
            return _NoPolicies()
        return await self.resolver.policies_for(principal)

    async def _resource(self, resource: str) -> _Resource:
        return await self._resources.get_or_load(resource, lambda: self._load_resource(resource))

    async def _load_resource(self, resource: str) -> _Resource:
        prefix = f"arn:aws:ecr:{self.region}:{self.account}{_REPOSITORY_PREFIX}"
        if not resource.startswith(prefix):
            return _NO_RESOURCE
        async with self.meta.read() as tx:
            repository = await tx.repositories.get(resource.removeprefix(prefix))
        if repository is None:
            return _NO_RESOURCE
        return _Resource(self._policy(repository.policy), repository.resource_tags)

    def _policy(self, text: str | None) -> Policy | None:
        """A repository policy parsed once per distinct text."""
        if not text:
            return None
        if text not in self._parsed:
            if len(self._parsed) >= 1024:
                self._parsed.clear()
            self._parsed[text] = _parsed(text)
        return self._parsed[text]

    def _now(self) -> tuple[int, str]:
        """The request time for conditions, formatted once per second."""
        now = self.clock()
        epoch = int(now.timestamp())
        if self._formatted[0] != epoch:
            self._formatted = (epoch, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return self._formatted

    def _context(
        self,
        view: PolicyView,
        target: _Resource,
        extra: RequestContext | None,
        origin: Origin | None,
    ) -> dict[str, str | list[str] | bool | int | None]:
        epoch, current = self._now()
        context: dict[str, str | list[str] | bool | int | None] = {
            "aws:CurrentTime": current,
            "aws:EpochTime": epoch,
        }
        if origin is not None:
            context["aws:SecureTransport"] = origin.secure_transport
            if origin.source_ip:
                context["aws:SourceIp"] = origin.source_ip
        for key, value in view.principal_tags.items():
            context[f"aws:PrincipalTag/{key}"] = value
        for key, value in target.tags:
            context[f"aws:ResourceTag/{key}"] = value
            context[f"ecr:ResourceTag/{key}"] = value
        if extra:
            context.update(extra)
        return context


def _parsed(text: str | None) -> Policy | None:
    if not text:
        return None
    try:
        return parse(text, PolicyKind.RESOURCE)
    except MalformedPolicyDocumentError:
        log.warning("a stored repository policy no longer parses; it is ignored")
        return None
