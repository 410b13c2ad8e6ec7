"""What the console shows of IAM: users, roles, managed policies, access keys; the simulator.

Reads go through the same decisions as the IAM API (``iam:ListUsers`` on ``user/``,
``iam:GetUser``, ``iam:ListAccessKeys``...). The simulator answers ``iam:SimulatePrincipalPolicy``: the decision
``AccessService`` would make for that principal, with the statement that made it.
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.errors import InvalidInputError, NoSuchEntityError
from berth.iam import Decision, Outcome
from berth.iam.arns import parse_arn
from berth.meta.base import MetaStore
from berth.meta.identities import (
    AccessKey,
    AttachedPolicy,
    Group,
    InlinePolicy,
    ManagedPolicy,
    OwnerKind,
    PolicyVersion,
    Role,
    User,
)
from berth.services.access import AccessService, RequestContext
from berth.services.iam_simulation import SimulationInput
from berth.services.identities import IdentityService
from berth.types import Principal, PrincipalKind

__all__ = ["ConsoleIam", "PolicyDetails", "RoleDetails", "Simulation", "UserDetails"]

PAGE = 100


@dataclass(frozen=True, slots=True)
class Simulation:
    """A simulated decision: the outcome, AWS's message, and what decided it when known."""

    allowed: bool
    outcome: str
    message: str
    policy_type: str = ""
    policy_name: str = ""
    statement: str = ""


@dataclass(frozen=True, slots=True)
class UserDetails:
    user: User
    keys: tuple[AccessKey, ...]
    groups: tuple[Group, ...]
    attached: tuple[AttachedPolicy, ...]
    inline: tuple[InlinePolicy, ...]
    has_password: bool


@dataclass(frozen=True, slots=True)
class RoleDetails:
    role: Role
    attached: tuple[AttachedPolicy, ...]
    inline: tuple[InlinePolicy, ...]


@dataclass(frozen=True, slots=True)
class PolicyDetails:
    policy: ManagedPolicy
    versions: tuple[PolicyVersion, ...]
    document: str


class ConsoleIam:
    def __init__(self, meta: MetaStore, access: AccessService, identities: IdentityService) -> None:
        self.meta = meta
        self.access = access
        self.identities = identities
        self.account = access.account

    def _arn(self, kind: str, path: str, name: str) -> str:
        return f"arn:aws:iam::{self.account}:{kind}{path}{name}"

    async def may_list(self, principal: Principal) -> bool:
        """Whether the console offers the IAM pages at all."""
        return await self.access.allows(principal, "iam:ListUsers", self._arn("user", "/", ""))

    async def users(self, principal: Principal, after: str | None = None) -> list[User]:
        await self.access.authorize(principal, "iam:ListUsers", self._arn("user", "/", ""))
        async with self.meta.read() as tx:
            return await tx.identities.users.list(after=after, limit=PAGE)

    async def roles(self, principal: Principal, after: str | None = None) -> list[Role]:
        await self.access.authorize(principal, "iam:ListRoles", self._arn("role", "/", ""))
        async with self.meta.read() as tx:
            return await tx.identities.roles.list(after=after, limit=PAGE)

    async def policies(self, principal: Principal, after: str | None = None) -> list[ManagedPolicy]:
        await self.access.authorize(principal, "iam:ListPolicies", self._arn("policy", "/", ""))
        async with self.meta.read() as tx:
            return await tx.identities.policies.list(after=after, limit=PAGE)

    async def user(self, principal: Principal, name: str) -> UserDetails:
        async with self.meta.read() as tx:
            user = await tx.identities.users.get(name)
        arn = user.arn if user is not None else self._arn("user", "/", name)
        await self.access.authorize(principal, "iam:GetUser", arn)
        if user is None:
            raise NoSuchEntityError(f"The user with name {name} cannot be found.")
        await self.access.authorize(principal, "iam:ListAccessKeys", arn)
        await self.access.authorize(principal, "iam:ListAttachedUserPolicies", arn)
        async with self.meta.read() as tx:
            ids = tx.identities
            return UserDetails(
                user=user,
                keys=tuple(await ids.keys.list(user.id)),
                groups=tuple(await ids.groups.groups_of(user.id)),
                attached=tuple(
                    p for _, p in await ids.policies.attached(OwnerKind.USER, [user.id])
                ),
                inline=tuple(await ids.inline.list(OwnerKind.USER, [user.id])),
                has_password=await ids.logins.get(user.id) is not None,
            )

    async def role(self, principal: Principal, name: str) -> RoleDetails:
        async with self.meta.read() as tx:
            role = await tx.identities.roles.get(name)
        arn = role.arn if role is not None else self._arn("role", "/", name)
        await self.access.authorize(principal, "iam:GetRole", arn)
        if role is None:
            raise NoSuchEntityError(f"The role with name {name} cannot be found.")
        async with self.meta.read() as tx:
            ids = tx.identities
            return RoleDetails(
                role=role,
                attached=tuple(
                    p for _, p in await ids.policies.attached(OwnerKind.ROLE, [role.id])
                ),
                inline=tuple(await ids.inline.list(OwnerKind.ROLE, [role.id])),
            )

    async def policy(self, principal: Principal, arn: str) -> PolicyDetails:
        await self.access.authorize(principal, "iam:GetPolicy", arn)
        async with self.meta.read() as tx:
            policy = await tx.identities.policies.get(arn)
            versions = [] if policy is None else await tx.identities.policies.versions(policy.id)
        if policy is None:
            raise NoSuchEntityError(f"Policy {arn} does not exist or is not attachable.")
        await self.access.authorize(principal, "iam:GetPolicyVersion", arn)
        default = next((v for v in versions if v.version_id == policy.default_version), None)
        document = "" if default is None else default.document
        return PolicyDetails(policy, tuple(versions), document)

    async def simulate(
        self,
        principal: Principal,
        subject_arn: str,
        action: str,
        resource: str,
        context: RequestContext,
    ) -> Simulation:
        """The decision for ``subject_arn`` doing ``action`` on ``resource``."""
        await self.access.authorize(principal, "iam:SimulatePrincipalPolicy", subject_arn)
        if ":" not in action or action.startswith(":") or action.endswith(":"):
            raise InvalidInputError(f"Invalid action {action!r}: write it as service:Action")
        if not resource:
            raise InvalidInputError("The resource ARN is missing (use * for any)")
        role = self._role_of(subject_arn)
        if role is not None:
            return await self._simulate_role(role, action, resource, context)
        subject = await self.principal_of(subject_arn)
        decision = await self.access.decide(subject, action, resource, context=context)
        return _simulation(decision)

    def _role_of(self, text: str) -> str | None:
        """The role ARN when ``text`` names one of this account's roles or role sessions."""
        arn = parse_arn(text.strip())
        if arn is None or arn.account != self.account:
            return None
        kind, _, rest = arn.resource.partition("/")
        if arn.service == "iam" and kind == "role" and rest:
            return str(arn)
        role = rest.partition("/")[0]
        if arn.service == "sts" and kind == "assumed-role" and role:
            return self._arn("role", "/", role)
        return None

    async def _simulate_role(
        self, role_arn: str, action: str, resource: str, context: RequestContext
    ) -> Simulation:
        """A role's sessions, through the IAM simulator (they have no session of their own here)."""
        given = SimulationInput(
            actions=[action],
            resources=[resource],
            resource_policy=await self._repository_policy(resource),
            context=context,
        )
        result = (await self.identities.simulator.simulate_principal(role_arn, given))[0]
        allowed = result.decision == "allowed"
        outcome = {"allowed": "allowed", "explicitDeny": "explicit deny"}
        matched = result.matched[0] if result.matched else None
        verb = "may" if allowed else "may not"
        return Simulation(
            allowed=allowed,
            outcome=outcome.get(result.decision, "implicit deny"),
            message=f"Sessions of {role_arn} {verb} perform {action} on resource: {resource}",
            policy_type=matched.source_policy_type if matched else "",
            policy_name=matched.source_policy_id if matched else "",
        )

    async def _repository_policy(self, resource: str) -> str | None:
        prefix = self.access.repository_arn("")
        if not resource.startswith(prefix):
            return None
        async with self.meta.read() as tx:
            repository = await tx.repositories.get(resource.removeprefix(prefix))
        return None if repository is None else repository.policy

    async def principal_of(self, text: str) -> Principal:
        """The principal an ARN names: the account root or an IAM user."""
        arn = parse_arn(text.strip())
        if arn is None or arn.service != "iam" or not arn.account:
            raise InvalidInputError(f"Invalid principal ARN {text[:300]!r}")
        kind, _, rest = arn.resource.partition("/")
        if arn.resource == "root":
            return Principal.root(arn.account)
        if kind == "user" and rest:
            return await self._user(arn.account, str(arn), rest.rsplit("/", 1)[-1])
        raise InvalidInputError(
            f"Invalid principal ARN {text[:300]!r}: name the root, a user, a role or a session"
        )

    async def _user(self, account: str, arn: str, name: str) -> Principal:
        user = None
        if account == self.account:
            async with self.meta.read() as tx:
                user = await tx.identities.users.get(name)
            if user is None:
                raise NoSuchEntityError(f"The user with name {name} cannot be found.")
        user_id = name if user is None else user.id
        return Principal(PrincipalKind.USER, account, arn, user_id, name=name)


def _simulation(decision: Decision) -> Simulation:
    outcome = {Outcome.ALLOW: "allowed", Outcome.EXPLICIT_DENY: "explicit deny"}
    deciding = decision.statement
    return Simulation(
        allowed=decision.allowed,
        outcome=outcome.get(decision.outcome, "implicit deny"),
        message=decision.message,
        policy_type=(decision.policy_type.value if decision.policy_type else ""),
        policy_name=deciding.policy_name if deciding else "",
        statement=deciding.statement if deciding else "",
    )
