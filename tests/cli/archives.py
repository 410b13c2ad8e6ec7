"""`docker save` tarballs built in the test: manifest.json, a config, uncompressed layer tars."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Archive:
    path: Path
    config_digest: str
    layer_digests: tuple[str, ...]


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def docker_save(path: Path, tag: str = "demo:1.0", big_layer_bytes: int = 1024) -> Archive:
    """A tarball in the classic `docker save` shape (``<id>/layer.tar``, ``<config>.json``)."""
    layers = [
        _tar({"etc/hello.txt": b"hello from berth\n" + os.urandom(16)}),
        _tar({"data/big.bin": os.urandom(big_layer_bytes)}),
    ]
    diff_ids = [_digest(layer) for layer in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "layer one"}, {"created_by": "layer two"}],
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(path, "w") as archive:
        names = []
        for layer, digest in zip(layers, diff_ids, strict=True):
            name = f"{digest.split(':')[1]}/layer.tar"
            _add(archive, name, layer)
            names.append(name)
        _add(archive, config_name, config)
        manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": names}]
        _add(archive, "manifest.json", json.dumps(manifest).encode())
    return Archive(path, _digest(config), tuple(diff_ids))
