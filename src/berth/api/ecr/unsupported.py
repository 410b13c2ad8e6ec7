"""ECR operations Berth does not serve yet: a clear ValidationException naming the operation."""

from __future__ import annotations

from berth.api.ecr.calls import Call, Result
from berth.errors import ValidationError

__all__ = ["not_built"]


async def not_built(call: Call) -> Result:
    """Pull-through cache, replication, scanning, signing and storage classes are not built."""
    raise ValidationError(
        f"Berth does not implement the ECR operation {call.operation} yet (pull-through cache, "
        "replication, image scanning, signing and storage classes are not built); "
        "see docs/aws-compatibility.md"
    )
