"""Access keys, login profiles and STS sessions over SQL (secrets stay sealed bytes here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from berth.meta.identities import AccessKey, LoginProfile, StsSession
from berth.meta.schema import iam_access_keys, iam_login_profiles, iam_sessions
from berth.meta.sql_common import AnyRow, InsertFactory, SqlConnection

__all__ = ["SqlAccessKeyStore", "SqlLoginProfileStore", "SqlSessionStore"]

_k = iam_access_keys
_l = iam_login_profiles
_s = iam_sessions


def _key(row: AnyRow) -> AccessKey:
    return AccessKey(
        id=row.id,
        user_id=row.user_id,
        secret=bytes(row.secret),
        status=row.status,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        last_used_service=row.last_used_service,
        last_used_region=row.last_used_region,
    )


class SqlAccessKeyStore:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def create(self, key: AccessKey) -> None:
        await self._conn.execute(
            _k.insert().values(
                id=key.id,
                user_id=key.user_id,
                secret=key.secret,
                status=key.status,
                created_at=key.created_at,
            )
        )

    async def get(self, access_key_id: str) -> AccessKey | None:
        row = (await self._conn.execute(select(_k).where(_k.c.id == access_key_id))).first()
        return None if row is None else _key(row)

    async def list(self, user_id: str) -> list[AccessKey]:
        query = select(_k).where(_k.c.user_id == user_id).order_by(_k.c.created_at, _k.c.id)
        return [_key(row) for row in await self._conn.execute(query)]

    async def set_status(self, access_key_id: str, status: str) -> bool:
        statement = _k.update().where(_k.c.id == access_key_id).values(status=status)
        return bool((await self._conn.execute(statement)).rowcount)

    async def delete(self, access_key_id: str) -> bool:
        statement = _k.delete().where(_k.c.id == access_key_id)
        return bool((await self._conn.execute(statement)).rowcount)

    async def record_use(self, access_key_id: str, at: datetime, service: str, region: str) -> None:
        await self._conn.execute(
            _k.update()
            .where(_k.c.id == access_key_id)
            .values(last_used_at=at, last_used_service=service, last_used_region=region)
        )

    async def count(self) -> int:
        return (await self._conn.execute(select(func.count()).select_from(_k))).scalar_one()


def _profile(row: AnyRow) -> LoginProfile:
    return LoginProfile(
        user_id=row.user_id,
        password_hash=row.password_hash,
        created_at=row.created_at,
        reset_required=bool(row.reset_required),
    )


class SqlLoginProfileStore:
    def __init__(self, conn: SqlConnection, insert: InsertFactory) -> None:
        self._conn = conn
        self._insert = insert

    async def get(self, user_id: str) -> LoginProfile | None:
        row = (await self._conn.execute(select(_l).where(_l.c.user_id == user_id))).first()
        return None if row is None else _profile(row)

    async def create(self, profile: LoginProfile) -> bool:
        statement = (
            self._insert(_l)
            .values(
                user_id=profile.user_id,
                password_hash=profile.password_hash,
                created_at=profile.created_at,
                reset_required=profile.reset_required,
            )
            .on_conflict_do_nothing()
        )
        return bool((await self._conn.execute(statement)).rowcount)

    async def update(self, profile: LoginProfile) -> None:
        await self._conn.execute(
            _l.update()
            .where(_l.c.user_id == profile.user_id)
            .values(password_hash=profile.password_hash, reset_required=profile.reset_required)
        )

    async def delete(self, user_id: str) -> bool:
        statement = _l.delete().where(_l.c.user_id == user_id)
        return bool((await self._conn.execute(statement)).rowcount)


def _session(row: AnyRow) -> StsSession:
    return StsSession(
        access_key_id=row.access_key_id,
        secret=bytes(row.secret),
        token_hash=row.token_hash,
        session_name=row.session_name,
        source_arn=row.source_arn,
        created_at=row.created_at,
        expires_at=row.expires_at,
        role_id=row.role_id,
        user_id=row.user_id,
        policy=row.policy,
        policy_arns=tuple(row.policy_arns),
    )


class SqlSessionStore:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def create(self, session: StsSession) -> None:
        await self._conn.execute(
            _s.insert().values(
                access_key_id=session.access_key_id,
                secret=session.secret,
                token_hash=session.token_hash,
                session_name=session.session_name,
                source_arn=session.source_arn,
                role_id=session.role_id,
                user_id=session.user_id,
                policy=session.policy,
                policy_arns=list(session.policy_arns),
                created_at=session.created_at,
                expires_at=session.expires_at,
            )
        )

    async def get(self, access_key_id: str) -> StsSession | None:
        query = select(_s).where(_s.c.access_key_id == access_key_id)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _session(row)

    async def delete_expired(self, before: datetime) -> int:
        statement = _s.delete().where(_s.c.expires_at < before)
        return int((await self._conn.execute(statement)).rowcount)
