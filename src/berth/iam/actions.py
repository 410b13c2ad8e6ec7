"""Which ECR actions each registry (OCI Distribution) request needs: one table, as data.

The actions are the ones ECR itself checks for the same request. Choices ECR leaves open:
reading an upload's status needs ``ecr:UploadLayerPart`` (only an uploader has a reason to ask);
cancelling an upload needs ``ecr:UploadLayerPart`` too (it ends the uploader's own work, writes
nothing); deleting a blob needs ``ecr:BatchDeleteImage``; listing referrers needs
``ecr:BatchGetImage``, since it reveals manifests the way pulling does.
"""

from __future__ import annotations

from berth.iam.arns import repository_arn

__all__ = ["REGISTRY_ACTIONS", "registry_actions", "repository_arn"]

REGISTRY_ACTIONS: dict[str, tuple[str, ...]] = {
    "get_manifest": ("ecr:BatchGetImage",),
    "head_manifest": ("ecr:BatchGetImage",),
    "put_manifest": ("ecr:PutImage",),
    "delete_manifest": ("ecr:BatchDeleteImage",),
    "get_blob": ("ecr:GetDownloadUrlForLayer",),
    "head_blob": ("ecr:BatchCheckLayerAvailability",),
    "delete_blob": ("ecr:BatchDeleteImage",),
    "start_upload": ("ecr:InitiateLayerUpload",),
    "patch_upload": ("ecr:UploadLayerPart",),
    "complete_upload": ("ecr:CompleteLayerUpload",),
    "get_upload": ("ecr:UploadLayerPart",),
    "cancel_upload": ("ecr:UploadLayerPart",),
    "list_tags": ("ecr:ListImages",),
    "list_referrers": ("ecr:BatchGetImage",),
    "catalog": ("ecr:DescribeRepositories",),
}


def registry_actions(operation: str) -> tuple[str, ...]:
    """The ECR actions a registry handler needs; an unknown handler name is a ``KeyError``."""
    try:
        return REGISTRY_ACTIONS[operation]
    except KeyError:
        raise KeyError(f"no ECR actions are defined for registry operation {operation!r}") from None
