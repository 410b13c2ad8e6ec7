"""ARN parsing and formatting for the ARNs Berth deals in: repositories, users, roles, sessions."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Arn",
    "assumed_role_arn",
    "format_arn",
    "parse_arn",
    "repository_arn",
    "role_arn",
    "role_arn_of_session",
    "root_arn",
    "user_arn",
]

PARTITION = "aws"


@dataclass(frozen=True, slots=True)
class Arn:
    """``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return format_arn(self.service, self.region, self.account, self.resource, self.partition)

    @property
    def resource_type(self) -> str:
        """``user``, ``role``, ``assumed-role``, ``repository``, ``root``...: before the ``/``."""
        return self.resource.split("/", 1)[0].split(":", 1)[0]


def parse_arn(text: str) -> Arn | None:
    """The parts of ``text``, or ``None`` when it is not an ARN."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def format_arn(
    service: str, region: str, account: str, resource: str, partition: str = PARTITION
) -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def repository_arn(region: str, account: str, name: str) -> str:
    """``arn:aws:ecr:REGION:ACCOUNT:repository/NAME``."""
    return format_arn("ecr", region, account, f"repository/{name}")


def root_arn(account: str) -> str:
    return format_arn("iam", "", account, "root")


def user_arn(account: str, name: str, path: str = "/") -> str:
    return format_arn("iam", "", account, f"user{path}{name}")


def role_arn(account: str, name: str, path: str = "/") -> str:
    return format_arn("iam", "", account, f"role{path}{name}")


def assumed_role_arn(account: str, role_name: str, session: str) -> str:
    """The STS session ARN: ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``."""
    return format_arn("sts", "", account, f"assumed-role/{role_name}/{session}")


def role_arn_of_session(session_arn: str) -> str | None:
    """The role behind an assumed-role session ARN (without the role's path, as STS drops it)."""
    arn = parse_arn(session_arn)
    if arn is None or arn.service != "sts" or arn.resource_type != "assumed-role":
        return None
    pieces = arn.resource.split("/")
    if len(pieces) < 3 or not pieces[1]:
        return None
    return role_arn(arn.account, pieces[1])
