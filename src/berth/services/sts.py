"""STS: who is calling, temporary credentials for a role (AssumeRole) or for oneself.

The surface's one ``authorize`` call weighs the caller's identity policies with the role's trust
policy as the resource policy, as AWS does: a trust policy naming the user (or role session)
exactly needs no identity allow, one naming only the account does. Here the trust policy must
also name the caller itself. The account root may not assume roles at all, as in AWS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from berth.errors import AccessDeniedError, MalformedPolicyDocumentError, ValidationError
from berth.iam import (
    ROOT_MAY_NOT_ASSUME_ROLES,
    AuthorizationRequest,
    Policy,
    PolicyKind,
    resource_policy_names,
)
from berth.iam.arns import assumed_role_arn
from berth.meta.identities import IdentityStore, Role, StsSession
from berth.secrets import session_token, token_hash
from berth.services.iam_common import (
    IamContext,
    constraint_error,
    new_access_key_id,
    new_secret,
    policy_size,
)
from berth.types import Principal, PrincipalKind

__all__ = [
    "MAX_POLICY_ARNS",
    "AssumedRole",
    "CallerIdentity",
    "SessionCredentials",
    "StsService",
]

MIN_DURATION = 900
DEFAULT_ROLE_DURATION = 3600
CHAINED_MAX = 3600
USER_SESSION_DEFAULT, USER_SESSION_MAX, ROOT_SESSION_MAX = 43200, 129600, 3600
MAX_POLICY_ARNS = 10
MAX_SESSION_POLICY = 2048
KEEP_EXPIRED = timedelta(days=1)
_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}")


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    user_id: str
    account: str
    arn: str


@dataclass(frozen=True, slots=True)
class SessionCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


@dataclass(frozen=True, slots=True)
class AssumedRole:
    credentials: SessionCredentials
    assumed_role_id: str
    arn: str
    packed_policy_size: int | None = None


def _denied(principal: Principal, role_arn: str) -> AccessDeniedError:
    return AccessDeniedError(
        f"User: {principal.arn} is not authorized to perform: sts:AssumeRole on resource: "
        f"{role_arn}"
    )


class StsService:
    def __init__(self, iam: IamContext) -> None:
        self._iam = iam

    def caller_identity(self, principal: Principal) -> CallerIdentity:
        return CallerIdentity(principal.user_id, principal.account, principal.arn)

    async def assume_role(
        self,
        principal: Principal,
        role_arn: str,
        session_name: str,
        *,
        duration: int | None = None,
        policy: str | None = None,
        policy_arns: tuple[str, ...] = (),
    ) -> AssumedRole:
        if principal.is_root:
            raise AccessDeniedError(ROOT_MAY_NOT_ASSUME_ROLES)
        if not _SESSION_NAME_RE.fullmatch(session_name):
            raise constraint_error(
                "roleSessionName",
                session_name,
                r"Member must satisfy regular expression pattern: [\w+=,.@-]*",
            )
        if policy is not None:
            self._iam.policies.parse(policy, PolicyKind.IDENTITY)
        if len(policy_arns) > MAX_POLICY_ARNS:
            raise constraint_error(
                "policyArns", len(policy_arns), "Member must have length less than or equal to 10"
            )
        async with self._iam.meta.transaction() as tx:
            ids = tx.identities
            role = await ids.roles.get(role_arn.rsplit("/", 1)[-1])
            if role is None or role.arn != role_arn:
                raise _denied(principal, role_arn)
            self._check_trust(principal, role)
            await _check_policy_arns(ids, policy_arns)
            seconds = _role_duration(principal, role, duration)
            credentials = self._credentials(seconds)
            await ids.sessions.delete_expired(self._iam.clock() - KEEP_EXPIRED)
            await ids.sessions.create(
                self._session(
                    credentials,
                    principal=principal,
                    session_name=session_name,
                    policy=policy,
                    policy_arns=policy_arns,
                    role=role,
                )
            )
        return AssumedRole(
            credentials=credentials,
            assumed_role_id=f"{role.id}:{session_name}",
            arn=assumed_role_arn(self._iam.account, role.name, session_name),
            packed_policy_size=_packed_size(policy, policy_arns),
        )

    async def trust_policy(self, role_arn: str) -> Policy | None:
        """The role's trust policy, or None when there is no such role."""
        async with self._iam.meta.read() as tx:
            role = await tx.identities.roles.get(role_arn.rsplit("/", 1)[-1])
        if role is None or role.arn != role_arn:
            return None
        return self._iam.policies.stored(role.trust_policy, PolicyKind.TRUST)

    def _check_trust(self, principal: Principal, role: Role) -> None:
        """The trust policy itself must name the caller (its account counts, as in AWS)."""
        trust = self._iam.policies.stored(role.trust_policy, PolicyKind.TRUST)
        request = AuthorizationRequest(
            principal=principal,
            action="sts:AssumeRole",
            resource=role.arn,
            resource_account=self._iam.account,
            resource_policy=trust,
        )
        if not resource_policy_names(request):
            raise _denied(principal, role.arn)

    async def get_session_token(
        self, principal: Principal, duration: int | None = None
    ) -> SessionCredentials:
        if principal.kind not in (PrincipalKind.USER, PrincipalKind.ROOT) or (
            principal.access_key_id.startswith("ASIA")
        ):
            raise AccessDeniedError("Cannot call GetSessionToken with session credentials")
        longest = ROOT_SESSION_MAX if principal.is_root else USER_SESSION_MAX
        seconds = duration or min(USER_SESSION_DEFAULT, longest)
        _check_duration(seconds, longest)
        credentials = self._credentials(seconds)
        session = self._session(
            credentials,
            principal=principal,
            session_name=principal.name,
            policy=None,
            policy_arns=(),
            role=None,
        )
        async with self._iam.meta.transaction() as tx:
            await tx.identities.sessions.delete_expired(self._iam.clock() - KEEP_EXPIRED)
            await tx.identities.sessions.create(session)
        return credentials

    def _credentials(self, seconds: int) -> SessionCredentials:
        key_id = new_access_key_id("ASIA")
        secret = new_secret()
        expiration = self._iam.clock() + timedelta(seconds=seconds)
        return SessionCredentials(key_id, secret, session_token(secret, key_id), expiration)

    def _session(
        self,
        credentials: SessionCredentials,
        *,
        principal: Principal,
        session_name: str,
        policy: str | None,
        policy_arns: tuple[str, ...],
        role: Role | None,
    ) -> StsSession:
        key_id = credentials.access_key_id
        return StsSession(
            access_key_id=key_id,
            secret=self._iam.box.seal_text(credentials.secret_access_key, key_id),
            token_hash=token_hash(credentials.session_token),
            session_name=session_name,
            source_arn=principal.arn,
            created_at=self._iam.clock(),
            expires_at=credentials.expiration,
            role_id=None if role is None else role.id,
            user_id=principal.user_id if principal.kind is PrincipalKind.USER else None,
            policy=policy,
            policy_arns=policy_arns,
        )


def _packed_size(policy: str | None, policy_arns: tuple[str, ...]) -> int | None:
    """How much of the session-policy allowance is used, in percent, as STS reports it."""
    if policy is None and not policy_arns:
        return None
    used = policy_size(policy or "") + 100 * len(policy_arns)
    return max(1, used * 100 // MAX_SESSION_POLICY)


def _role_duration(principal: Principal, role: Role, duration: int | None) -> int:
    seconds = DEFAULT_ROLE_DURATION if duration is None else duration
    if principal.kind is PrincipalKind.ASSUMED_ROLE and seconds > CHAINED_MAX:
        raise ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
            "role chaining."
        )
    if seconds > role.max_session_duration:
        raise ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    _check_duration(seconds, role.max_session_duration)
    return seconds


def _check_duration(seconds: int, longest: int) -> None:
    if not MIN_DURATION <= seconds <= longest:
        raise constraint_error(
            "durationSeconds",
            seconds,
            f"Member must have value between {MIN_DURATION} and {longest}",
        )


async def _check_policy_arns(ids: IdentityStore, arns: tuple[str, ...]) -> None:
    for arn in arns:
        if await ids.policies.get(arn) is None:
            raise MalformedPolicyDocumentError(f"Policy {arn} does not exist or is not attachable.")
