"""``berth push`` and ``berth pull``: images between Berth and an OCI layout or a ``docker save``
tarball, over the OCI Distribution API, with a progress bar per layer.

Logging in is ``GetAuthorizationToken`` with the usual AWS profile (or ``--creds USER:PASSWORD``);
blobs the registry already has are skipped after a ``HEAD``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)

from berth.cli.aws import EXIT_USAGE, AwsOptions, fail, options_of, stderr
from berth.cli.ecr import login_password
from berth.cli.layout import DigestMismatchError, OciLayout
from berth.cli.registry import ImageRef, Registry, RegistryError
from berth.cli.sources import INDEX_TYPES, Blob, Image, SourceError, open_source, split_local

__all__ = ["pull", "push"]

CredsOption = Annotated[
    str | None, typer.Option(help="USER:PASSWORD for the registry (else GetAuthorizationToken).")
]
PlainHttpOption = Annotated[
    bool, typer.Option("--plain-http", help="Use http:// for a registry other than the endpoint.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=stderr,
        disable=quiet,
        transient=False,
    )


def _registry(ref: ImageRef, options: AwsOptions, creds: str | None, plain_http: bool) -> Registry:
    if creds is not None:
        user, colon, password = creds.partition(":")
        if not colon:
            fail("--creds takes USER:PASSWORD", EXIT_USAGE)
        scheme = "http" if plain_http else "https"
        return Registry(scheme, ref.host, user, password, options.verify_ssl)
    password, endpoint = login_password(options)
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    scheme = parts.scheme if parts.netloc == ref.host else ("http" if plain_http else "https")
    return Registry(scheme, ref.host, "AWS", password, options.verify_ssl)


@contextmanager
def _transfer_errors() -> Iterator[None]:
    try:
        yield
    except (RegistryError, SourceError, DigestMismatchError) as error:
        fail(f"error: {error}", 1)
    except OSError as error:
        fail(f"error: {error}", 1)


def _parse_ref(text: str) -> ImageRef:
    try:
        return ImageRef.parse(text)
    except ValueError as error:
        fail(f"error: {error}", EXIT_USAGE)


# -- push ------------------------------------------------------------------------------------


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def _push_blob(registry: Registry, repository: str, blob: Blob, progress: Progress) -> None:
    task = progress.add_task(_short(blob.digest), total=blob.size)
    if registry.has_blob(repository, blob.digest):
        progress.update(task, completed=blob.size, description=f"{_short(blob.digest)} exists")
        return
    with blob.open() as source:
        registry.upload_blob(
            repository,
            blob.digest,
            blob.size,
            source,
            lambda n: progress.advance(task, n),
        )
    progress.update(task, description=f"{_short(blob.digest)} pushed")


def _push_image(
    registry: Registry, repository: str, image: Image, reference: str, progress: Progress
) -> str:
    for child in image.children:
        _push_image(registry, repository, child, child.digest, progress)
    seen: set[str] = set()
    for blob in image.blobs:
        if blob.digest not in seen:
            seen.add(blob.digest)
            _push_blob(registry, repository, blob, progress)
    return registry.put_manifest(repository, reference, image.media_type, image.manifest)


def push(
    ctx: typer.Context,
    *,
    source: Annotated[str, typer.Argument(help="oci:DIR[:TAG] or docker-archive:FILE.tar[:TAG]")],
    target: Annotated[str, typer.Argument(help="HOST/REPOSITORY[:TAG]")],
    creds: CredsOption = None,
    plain_http: PlainHttpOption = False,
    quiet: QuietOption = False,
) -> None:
    """Push an image from an OCI layout or a `docker save` tarball to the registry."""
    local = split_local(source)
    if local is None:
        fail(
            f"error: SOURCE must be oci:DIR[:TAG] or docker-archive:FILE[:TAG], not {source!r}",
            EXIT_USAGE,
        )
    ref = _parse_ref(target)
    with _transfer_errors():
        image = open_source(local)
        registry = _registry(ref, options_of(ctx), creds, plain_http)
        try:
            with _progress(quiet) as progress:
                digest = _push_image(registry, ref.repository, image, ref.reference, progress)
        finally:
            registry.close()
    stderr.print(f"Pushed {ref} ({image.media_type})", markup=False)
    typer.echo(digest or image.digest)


# -- pull ------------------------------------------------------------------------------------


def _pull_blob(
    registry: Registry,
    repository: str,
    layout: OciLayout,
    descriptor: dict[str, Any],
    progress: Progress,
) -> None:
    digest, size = str(descriptor["digest"]), int(descriptor.get("size", 0))
    task = progress.add_task(_short(digest), total=size or None)
    if layout.has_blob(digest, size):
        progress.update(task, completed=size, description=f"{_short(digest)} exists")
        return
    layout.write_blob(
        digest,
        lambda sink: registry.download_blob(
            repository, digest, sink, lambda n: progress.advance(task, n)
        ),
    )
    progress.update(task, description=f"{_short(digest)} pulled")


def _pull_manifest(
    registry: Registry, repository: str, reference: str, layout: OciLayout, progress: Progress
) -> dict[str, Any]:
    media_type, body = registry.get_manifest(repository, reference)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    if reference.startswith("sha256:") and reference != digest:
        raise DigestMismatchError(f"manifest {reference} arrived as {digest}")
    document = json.loads(body)
    if media_type in INDEX_TYPES or "manifests" in document:
        for child in document.get("manifests", []):
            _pull_manifest(registry, repository, str(child["digest"]), layout, progress)
    else:
        for blob in [document["config"], *document.get("layers", [])]:
            _pull_blob(registry, repository, layout, blob, progress)
    layout.write_bytes(digest, body)
    return {"mediaType": media_type, "digest": digest, "size": len(body)}


def pull(
    ctx: typer.Context,
    *,
    source: Annotated[str, typer.Argument(help="HOST/REPOSITORY[:TAG|@DIGEST]")],
    target: Annotated[str, typer.Argument(help="oci:DIR[:TAG] (the tag defaults to SOURCE's)")],
    creds: CredsOption = None,
    plain_http: PlainHttpOption = False,
    quiet: QuietOption = False,
) -> None:
    """Pull an image from the registry into an OCI image layout directory."""
    local = split_local(target)
    if local is None or local.transport != "oci":
        fail(f"error: TARGET must be oci:DIR[:TAG], not {target!r}", EXIT_USAGE)
    ref = _parse_ref(source)
    layout = OciLayout(local.path)
    with _transfer_errors():
        registry = _registry(ref, options_of(ctx), creds, plain_http)
        try:
            layout.prepare()
            with _progress(quiet) as progress:
                descriptor = _pull_manifest(
                    registry, ref.repository, ref.reference, layout, progress
                )
        finally:
            registry.close()
        layout.add_reference(descriptor, local.tag or ref.tag)
    stderr.print(f"Pulled {ref} into {local.path}", markup=False)
    typer.echo(descriptor["digest"])
