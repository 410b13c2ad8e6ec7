"""Policy evaluation as AWS does it: explicit deny, then allow, otherwise implicit deny.

Same account: an identity-policy allow or a resource-policy allow suffices; a permissions boundary
and session policies then limit it, except a resource-policy allow naming the exact user or
session. Cross-account: both the identity policies and the resource policy must allow. The
account root may do anything in its own account that its resource policy does not deny, except
assume a role (no policy can grant that, as in AWS); an anonymous caller only what a resource
policy grants to ``"*"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from berth.iam.arns import role_arn_of_session
from berth.iam.documents import Candidate, Effect, Policy, Statement
from berth.iam.principals import PrincipalMatch
from berth.iam.variables import ContextInput, RequestContext
from berth.types import Principal, PrincipalKind

__all__ = [
    "ROOT_MAY_NOT_ASSUME_ROLES",
    "AuthorizationRequest",
    "DecidingStatement",
    "Decision",
    "NamedPolicy",
    "Outcome",
    "PolicyType",
    "evaluate",
    "resource_policy_names",
]


ROOT_MAY_NOT_ASSUME_ROLES = "Roles may not be assumed by root accounts."
_ASSUME_ROLE = "sts:assumerole"


class Outcome(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"


class PolicyType(Enum):
    """The kinds of policy a refusal names, in AWS's words."""

    IDENTITY = "identity-based policy"
    RESOURCE = "resource-based policy"
    BOUNDARY = "permissions boundary"
    SESSION = "session policy"

    @property
    def article(self) -> str:
        return "an" if self is PolicyType.IDENTITY else "a"


@dataclass(frozen=True, slots=True)
class NamedPolicy:
    """A policy with the name or ARN that explanations give for it."""

    name: str
    policy: Policy


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    principal: Principal
    action: str
    resource: str
    resource_account: str
    context: Mapping[str, ContextInput] = field(default_factory=dict)
    identity_policies: Sequence[NamedPolicy] = ()
    resource_policy: Policy | None = None
    permissions_boundary: Policy | None = None
    session_policies: Sequence[Policy] = ()
    role_arn: str | None = None


@dataclass(frozen=True, slots=True)
class DecidingStatement:
    policy_type: PolicyType
    policy_name: str
    statement: str
    index: int


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    outcome: Outcome
    message: str
    policy_type: PolicyType | None = None
    statement: DecidingStatement | None = None


@dataclass(frozen=True, slots=True)
class _Found:
    statement: Statement
    policy_type: PolicyType
    name: str
    exact: bool = False

    def deciding(self) -> DecidingStatement:
        label = self.statement.label
        return DecidingStatement(self.policy_type, self.name, label, self.statement.index)


class _Evaluation:
    """One request's evaluation: the lower-cased action and the context, built once."""

    __slots__ = ("action", "context", "delegate", "request", "role_arn")

    def __init__(self, request: AuthorizationRequest, *, delegate: bool = True) -> None:
        self.request = request
        self.delegate = delegate
        self.action = request.action.lower()
        self.role_arn = request.role_arn or _session_role(request.principal)
        self.context = _context(request, self.role_arn)

    def find(
        self, policy: Policy | None, effect: Effect, policy_type: PolicyType, name: str
    ) -> _Found | None:
        if policy is None:
            return None
        candidates = policy.index.candidates_for(effect, self.action, self.request.resource)
        if policy_type is PolicyType.RESOURCE:
            return self._find_naming(candidates, effect, name)
        statement = _first(candidates, self.action, self.request.resource, self.context)
        return None if statement is None else _Found(statement, policy_type, name)

    def _find_naming(
        self, candidates: tuple[Candidate, ...], effect: Effect, name: str
    ) -> _Found | None:
        """The first resource-policy statement that applies and names the caller."""
        principal = self.request.principal
        for statement, check_action in candidates:
            if check_action and not statement.action_matcher.matches(self.action, self.context):
                continue
            if not statement.applies_to(self.request.resource, self.context):
                continue
            named = statement.names(principal, self.role_arn)
            if named is PrincipalMatch.NONE:
                continue
            if effect is Effect.ALLOW and principal.is_anonymous and not _to_all(statement):
                continue
            if effect is Effect.ALLOW and self._delegates_to_identity(named):
                continue
            return _Found(statement, PolicyType.RESOURCE, name, named is PrincipalMatch.EXACT)
        return None

    def _delegates_to_identity(self, named: PrincipalMatch) -> bool:
        """A same-account grant to the account grants nothing by itself (root excepted)."""
        request = self.request
        return (
            self.delegate
            and named is PrincipalMatch.ACCOUNT
            and request.principal.account == request.resource_account
            and not request.principal.is_root
        )

    def find_identity(self, effect: Effect) -> _Found | None:
        action, resource, context = self.action, self.request.resource, self.context
        for named in self.request.identity_policies:
            candidates = named.policy.index.candidates_for(effect, action, resource)
            if not candidates:
                continue
            statement = _first(candidates, action, resource, context)
            if statement is not None:
                return _Found(statement, PolicyType.IDENTITY, named.name)
        return None

    def find_sessions(self, effect: Effect) -> _Found | None:
        for i, policy in enumerate(self.request.session_policies):
            found = self.find(policy, effect, PolicyType.SESSION, f"session policy {i}")
            if found is not None:
                return found
        return None

    def find_resource(self, effect: Effect) -> _Found | None:
        policy = self.request.resource_policy
        return self.find(policy, effect, PolicyType.RESOURCE, "resource policy")

    def find_boundary(self, effect: Effect) -> _Found | None:
        policy = self.request.permissions_boundary
        return self.find(policy, effect, PolicyType.BOUNDARY, "permissions boundary")


def resource_policy_names(request: AuthorizationRequest) -> bool:
    """Whether the resource policy by itself allows the caller (naming it, its role, its account
    or everyone) and does not deny it: what a role's trust policy must do for AssumeRole."""
    run = _Evaluation(request, delegate=False)
    return run.find_resource(Effect.DENY) is None and run.find_resource(Effect.ALLOW) is not None


def _first(
    candidates: tuple[Candidate, ...], action: str, resource: str, context: RequestContext
) -> Statement | None:
    for statement, check_action in candidates:
        if check_action and not statement.action_matcher.matches(action, context):
            continue
        if statement.applies_to(resource, context):
            return statement
    return None


def _to_all(statement: Statement) -> bool:
    return statement.principal_set is not None and statement.principal_set.everyone


def _session_role(principal: Principal) -> str | None:
    if principal.kind is PrincipalKind.ASSUMED_ROLE:
        return role_arn_of_session(principal.arn)
    return None


def _context(request: AuthorizationRequest, role_arn: str | None) -> RequestContext:
    context = RequestContext(request.context)
    principal = request.principal
    if principal.is_anonymous:
        return context
    context.set_default("aws:principalarn", role_arn or principal.arn)
    context.set_default("aws:principalaccount", principal.account)
    context.set_default("aws:userid", principal.user_id)
    if principal.kind is PrincipalKind.USER:
        context.set_default("aws:username", principal.name)
    return context


def evaluate(request: AuthorizationRequest) -> Decision:
    """Decide ``request``; a refusal's message is the one AWS would give."""
    run = _Evaluation(request)
    principal = request.principal
    if principal.is_root or principal.is_anonymous:
        return _special(run)
    denied = (
        run.find_identity(Effect.DENY)
        or run.find_resource(Effect.DENY)
        or run.find_boundary(Effect.DENY)
        or run.find_sessions(Effect.DENY)
    )
    if denied is not None:
        return _explicit_deny(request, denied)
    identity = run.find_identity(Effect.ALLOW)
    resource = run.find_resource(Effect.ALLOW)
    if principal.account != request.resource_account:
        if identity is None:
            return _implicit_deny(request, PolicyType.IDENTITY)
        if resource is None:
            return _implicit_deny(request, PolicyType.RESOURCE)
    elif resource is not None and resource.exact:
        return _allow(request, resource)
    elif identity is None and resource is None:
        return _implicit_deny(request, PolicyType.IDENTITY)
    return _limited(run, identity or resource)


def _limited(run: _Evaluation, granted: _Found | None) -> Decision:
    """A grant, limited by the permissions boundary and the session policies when present."""
    request = run.request
    if request.permissions_boundary is not None and run.find_boundary(Effect.ALLOW) is None:
        return _implicit_deny(request, PolicyType.BOUNDARY)
    if request.session_policies and run.find_sessions(Effect.ALLOW) is None:
        return _implicit_deny(request, PolicyType.SESSION)
    return _allow(request, granted)


def _special(run: _Evaluation) -> Decision:
    """The account root and anonymous callers: only the resource policy speaks for them."""
    request = run.request
    if request.principal.is_root and run.action == _ASSUME_ROLE:
        return Decision(False, Outcome.IMPLICIT_DENY, ROOT_MAY_NOT_ASSUME_ROLES)
    denied = run.find_resource(Effect.DENY)
    if denied is not None:
        return _explicit_deny(request, denied)
    granted = run.find_resource(Effect.ALLOW)
    own_account = request.principal.account == request.resource_account
    if granted is None and not (request.principal.is_root and own_account):
        return _implicit_deny(request, PolicyType.RESOURCE)
    return _allow(request, granted)


def _who(request: AuthorizationRequest) -> str:
    principal = request.principal
    name = "anonymous" if principal.is_anonymous else principal.arn
    return f"User: {name}"


def _refusal(request: AuthorizationRequest, reason: str) -> str:
    return (
        f"{_who(request)} is not authorized to perform: {request.action} "
        f"on resource: {request.resource} {reason}"
    )


def _explicit_deny(request: AuthorizationRequest, found: _Found) -> Decision:
    kind = found.policy_type
    message = _refusal(request, f"with an explicit deny in {kind.article} {kind.value}")
    return Decision(False, Outcome.EXPLICIT_DENY, message, kind, found.deciding())


def _implicit_deny(request: AuthorizationRequest, kind: PolicyType) -> Decision:
    message = _refusal(request, f"because no {kind.value} allows the {request.action} action")
    return Decision(False, Outcome.IMPLICIT_DENY, message, kind)


def _allow(request: AuthorizationRequest, found: _Found | None) -> Decision:
    message = (
        f"{_who(request)} is authorized to perform: {request.action} "
        f"on resource: {request.resource}"
    )
    if found is None:
        return Decision(True, Outcome.ALLOW, message)
    return Decision(True, Outcome.ALLOW, message, found.policy_type, found.deciding())
