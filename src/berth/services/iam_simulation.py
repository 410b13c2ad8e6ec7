"""SimulatePrincipalPolicy and SimulateCustomPolicy, decided by the same engine as real requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from berth.errors import InvalidInputError
from berth.iam import (
    AuthorizationRequest,
    Decision,
    NamedPolicy,
    Outcome,
    Policy,
    PolicyKind,
    PolicyType,
    evaluate,
)
from berth.iam.arns import parse_arn
from berth.iam.variables import ContextInput
from berth.meta.identities import IdentityStore, OwnerKind
from berth.services.iam_common import IamContext, no_such_owner
from berth.types import Principal, PrincipalKind

__all__ = ["EvaluationResult", "MatchedStatement", "SimulationInput", "Simulator"]

_DECISIONS = {
    Outcome.ALLOW: "allowed",
    Outcome.EXPLICIT_DENY: "explicitDeny",
    Outcome.IMPLICIT_DENY: "implicitDeny",
}


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    source_policy_id: str
    source_policy_type: str


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    action: str
    resource: str
    decision: str
    matched: tuple[MatchedStatement, ...] = ()
    allowed_by_boundary: bool | None = None


@dataclass(frozen=True, slots=True)
class SimulationInput:
    """What both simulations take besides the principal's own policies."""

    actions: Sequence[str]
    resources: Sequence[str] = ("*",)
    policies: Sequence[str] = ()
    boundaries: Sequence[str] = ()
    resource_policy: str | None = None
    resource_owner: str | None = None
    caller_arn: str | None = None
    context: Mapping[str, ContextInput] = field(default_factory=dict)


@dataclass(slots=True)
class _Sources:
    """The policies in play, each with the name and source type the results report."""

    identity: list[NamedPolicy] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    boundary: Policy | None = None

    def add(self, name: str, source_type: str, policy: Policy) -> None:
        self.identity.append(NamedPolicy(name, policy))
        self.types[name] = source_type


class Simulator:
    def __init__(self, iam: IamContext) -> None:
        self._iam = iam

    async def simulate_principal(
        self, source_arn: str, given: SimulationInput
    ) -> list[EvaluationResult]:
        sources, principal = await self._principal_sources(source_arn)
        return self._run(principal, sources, given)

    def simulate_custom(self, given: SimulationInput) -> list[EvaluationResult]:
        arn = given.caller_arn or f"arn:aws:iam::{self._iam.account}:user/simulated"
        name = arn.rsplit("/", 1)[-1]
        principal = Principal(PrincipalKind.USER, self._iam.account, arn, "AIDASIMULATED", name)
        return self._run(principal, _Sources(), given)

    def _run(
        self, principal: Principal, sources: _Sources, given: SimulationInput
    ) -> list[EvaluationResult]:
        parse = self._iam.policies.parse
        for i, text in enumerate(given.policies, start=1):
            sources.add(f"PolicyInputList.{i}", "user", parse(text, PolicyKind.IDENTITY))
        for text in given.boundaries:
            sources.boundary = parse(text, PolicyKind.IDENTITY)
        resource_policy = None
        if given.resource_policy is not None:
            resource_policy = parse(given.resource_policy, PolicyKind.RESOURCE)
        owner = given.resource_owner or self._iam.account
        results = []
        for action in given.actions:
            for resource in given.resources or ("*",):
                request = AuthorizationRequest(
                    principal=principal,
                    action=action,
                    resource=resource,
                    resource_account=_account_of(owner),
                    context=given.context,
                    identity_policies=tuple(sources.identity),
                    resource_policy=resource_policy,
                    permissions_boundary=sources.boundary,
                )
                results.append(_result(request, evaluate(request), sources))
        return results

    async def _principal_sources(self, arn: str) -> tuple[_Sources, Principal]:
        parsed = parse_arn(arn)
        if parsed is None or parsed.service != "iam" or parsed.account != self._iam.account:
            raise InvalidInputError(f"Invalid ARN: {arn}")
        kind_name, _, rest = parsed.resource.partition("/")
        name = rest.rsplit("/", 1)[-1]
        kinds = {"user": OwnerKind.USER, "group": OwnerKind.GROUP, "role": OwnerKind.ROLE}
        kind = kinds.get(kind_name)
        if kind is None or not name:
            raise InvalidInputError(f"Invalid ARN: {arn}")
        async with self._iam.meta.read() as tx:
            return await self._load(tx.identities, kind, name, arn)

    async def _load(
        self, ids: IdentityStore, kind: OwnerKind, name: str, arn: str
    ) -> tuple[_Sources, Principal]:
        sources = _Sources()
        account = self._iam.account
        if kind is OwnerKind.USER:
            user = await ids.users.get(name)
            if user is None:
                raise no_such_owner(kind, name)
            principal = Principal(PrincipalKind.USER, account, user.arn, user.id, user.name)
            await self._add(ids, sources, OwnerKind.USER, [user.id])
            groups = [g.id for g in await ids.groups.groups_of(user.id)]
            await self._add(ids, sources, OwnerKind.GROUP, groups)
            boundary = user.permissions_boundary
        elif kind is OwnerKind.GROUP:
            group = await ids.groups.get(name)
            if group is None:
                raise no_such_owner(kind, name)
            principal = Principal(PrincipalKind.USER, account, arn, "AIDASIMULATED", name)
            await self._add(ids, sources, OwnerKind.GROUP, [group.id])
            boundary = None
        else:
            role = await ids.roles.get(name)
            if role is None:
                raise no_such_owner(kind, name)
            session = f"arn:aws:sts::{account}:assumed-role/{role.name}/simulation"
            principal = Principal(
                PrincipalKind.ASSUMED_ROLE, account, session, f"{role.id}:simulation", role.name
            )
            await self._add(ids, sources, OwnerKind.ROLE, [role.id])
            boundary = role.permissions_boundary
        if boundary is not None:
            sources.boundary = await self._managed(ids, boundary)
        return sources, principal

    async def _add(
        self, ids: IdentityStore, sources: _Sources, kind: OwnerKind, owners: list[str]
    ) -> None:
        stored = self._iam.policies.stored
        for inline in await ids.inline.list(kind, owners):
            sources.add(inline.name, kind.value, stored(inline.document, PolicyKind.IDENTITY))
        for _, attached in await ids.policies.attached(kind, owners):
            policy = stored(attached.document, PolicyKind.IDENTITY)
            sources.add(attached.policy.name, "user-managed", policy)

    async def _managed(self, ids: IdentityStore, arn: str) -> Policy | None:
        policy = await ids.policies.get(arn)
        if policy is None:
            return None
        version = await ids.policies.get_version(policy.id, policy.default_version)
        if version is None:
            return None
        return self._iam.policies.stored(version.document, PolicyKind.IDENTITY)


def _account_of(owner: str) -> str:
    parsed = parse_arn(owner)
    return parsed.account if parsed is not None else owner


def _result(
    request: AuthorizationRequest, decision: Decision, sources: _Sources
) -> EvaluationResult:
    matched: tuple[MatchedStatement, ...] = ()
    deciding = decision.statement
    if deciding is not None:
        source_type = {
            PolicyType.RESOURCE: "resource",
            PolicyType.BOUNDARY: "none",
        }.get(deciding.policy_type) or sources.types.get(deciding.policy_name, "none")
        matched = (MatchedStatement(deciding.policy_name, source_type),)
    boundary = None
    if request.permissions_boundary is not None:
        boundary = decision.policy_type is not PolicyType.BOUNDARY
    return EvaluationResult(
        action=request.action,
        resource=request.resource,
        decision=_DECISIONS[decision.outcome],
        matched=matched,
        allowed_by_boundary=boundary,
    )
