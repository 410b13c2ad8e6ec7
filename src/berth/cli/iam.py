"""``berth iam`` and ``berth sts``: every IAM and STS operation, generated from botocore's model.

The same model-driven commands as ``berth ecr``, so the flags are the aws CLI's:
``berth iam create-role --role-name ci --assume-role-policy-document file://trust.json``.
"""

from __future__ import annotations

from berth.cli.model import service_app

__all__ = ["iam_app", "sts_app"]

iam_app = service_app("iam", "IAM operations against a Berth server (as `aws iam`).")
sts_app = service_app("sts", "STS operations against a Berth server (as `aws sts`).")
