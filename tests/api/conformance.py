"""The test data of the OCI distribution-spec conformance suite (conformance/setup.go), in Python.

One ``Suite`` per algorithm: configs[0..4] and manifests[0..4] (one per workflow, each config made
unique by a random author), the gzip'd tar layer, blobs A and B (B split in two chunks), the empty
JSON blob, and the referrers artifacts (A/B config-typed and layer-typed, C whose subject is never
pushed, and an index artifact). Descriptors carry ``data`` and ``newUnspecifiedField`` as the Go
structs marshal them, so the registry must keep fields it does not know.
"""

from __future__ import annotations

import base64
import random
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from .oci import OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, digest_of, pretty

LAYER_BASE64 = (
    "H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0"
    "WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD"
    "jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA"
)
EMPTY_JSON_SHA256 = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
NONEXISTENT_MANIFEST = ".INVALID_MANIFEST_NAME"
INVALID_MANIFEST = b"blablabla"
TEST_TAG = "tagtest0"
EMPTY_LAYER_TAG = "emptylayer"
ANNOTATION = "org.opencontainers.conformance.test"
ARTIFACT_TYPE_A = "application/vnd.nhl.peanut.butter.bagel"
ARTIFACT_TYPE_B = "application/vnd.nba.strawberry.jam.croissant"
ARTIFACT_TYPE_INDEX = "application/vnd.food.stand"
WORKFLOWS = 5
ALGORITHMS = ("sha256", "sha512")


@dataclass(frozen=True)
class Blob:
    content: bytes
    digest: str

    @property
    def length(self) -> str:
        return str(len(self.content))


def _descriptor(
    media_type: str, content: bytes, algorithm: str, *, data: bool = False
) -> dict[str, Any]:
    return {
        "mediaType": media_type,
        "digest": digest_of(content, algorithm),
        "size": len(content),
        "data": base64.b64encode(content).decode() if data else None,
        "newUnspecifiedField": base64.b64encode(b"hello world").decode() if data else None,
    }


def _random_author() -> str:
    alphabet = string.digits + string.ascii_letters + "-"
    return "".join(secrets.choice(alphabet) for _ in range(16))


@dataclass
class Suite:
    algorithm: str = "sha256"
    configs: list[Blob] = field(default_factory=list)
    manifests: list[Blob] = field(default_factory=list)

    def __post_init__(self) -> None:
        algorithm = self.algorithm
        self.layer = self._blob(base64.b64decode(LAYER_BASE64))
        for _ in range(WORKFLOWS):
            config = {
                "author": _random_author(),
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": []},
            }
            self.configs.append(self._blob(pretty(config)))
        layers = [_descriptor(OCI_LAYER, self.layer.content, algorithm)]
        for config_blob in self.configs:
            manifest = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": _descriptor(OCI_CONFIG, config_blob.content, algorithm, data=True),
                "layers": layers,
            }
            self.manifests.append(self._blob(pretty(manifest)))
        empty_layer_manifest = {
            "schemaVersion": 2,
            "config": _descriptor(OCI_CONFIG, self.configs[1].content, algorithm, data=True),
            "layers": [],
        }
        self.empty_layer_manifest = self._blob(pretty(empty_layer_manifest))
        seeded = random.Random(1)
        self.blob_a = self._blob(seeded.randbytes(42))
        self.blob_b = self._blob(seeded.randbytes(42))
        self.chunk_1 = self.blob_b.content[: 42 // 2 + 1]
        self.chunk_2 = self.blob_b.content[42 // 2 + 1 :]
        self.chunk_1_range = f"0-{len(self.chunk_1) - 1}"
        self.chunk_2_range = f"{len(self.chunk_1)}-{len(self.blob_b.content) - 1}"
        self.dummy_digest = digest_of(b"hello world", algorithm)
        self._referrers()

    def _blob(self, content: bytes) -> Blob:
        return Blob(content, digest_of(content, self.algorithm))

    def _referrers(self) -> None:
        algorithm = self.algorithm
        self.empty_json = self._blob(b"{}")
        empty = _descriptor(OCI_EMPTY, b"{}", algorithm)
        self.ref_blob_a = self._blob(b"NHL Peanut Butter on my NHL bagel")
        self.ref_blob_b = self._blob(b"NBA Strawberry Jam on my NBA croissant")
        subject = _descriptor(OCI_MANIFEST, self.manifests[4].content, algorithm)
        missing_subject = _descriptor(OCI_MANIFEST, self.manifests[3].content, algorithm)
        self.annotations: dict[str, str] = {}

        def artifact(document: dict[str, Any], note: str | None) -> Blob:
            if note is not None:
                document["annotations"] = {ANNOTATION: note}
            blob = self._blob(pretty(document))
            if note is not None:
                self.annotations[blob.digest] = note
            return blob

        def config_typed(artifact_type: str, content: bytes, note: str) -> Blob:
            return artifact(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": _descriptor(artifact_type, content, algorithm),
                    "layers": [empty],
                    "subject": subject,
                },
                note,
            )

        def layer_typed(
            artifact_type: str, content: bytes, note: str | None, about: dict[str, Any]
        ) -> Blob:
            return artifact(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "artifactType": artifact_type,
                    "config": empty,
                    "layers": [_descriptor(artifact_type, content, algorithm)],
                    "subject": about,
                },
                note,
            )

        a, b = self.ref_blob_a.content, self.ref_blob_b.content
        self.refs_a_config = config_typed(ARTIFACT_TYPE_A, a, "test config a")
        self.refs_b_config = config_typed(ARTIFACT_TYPE_B, b, "test config b")
        self.refs_a_layer = layer_typed(ARTIFACT_TYPE_A, a, "test layer a", subject)
        self.refs_b_layer = layer_typed(ARTIFACT_TYPE_B, b, "test layer b", subject)
        self.refs_c_layer = layer_typed(ARTIFACT_TYPE_B, b, None, missing_subject)
        self.refs_index = artifact(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "artifactType": ARTIFACT_TYPE_INDEX,
                "manifests": [
                    _descriptor(OCI_MANIFEST, self.refs_a_config.content, algorithm),
                    _descriptor(OCI_MANIFEST, self.refs_a_layer.content, algorithm),
                ],
                "subject": subject,
            },
            "test index",
        )
