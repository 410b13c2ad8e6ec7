"""The berth command."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from berth.cli import admin, audit, ecr, iam, images, policy
from berth.cli.aws import AwsOptions
from berth.cli.output import FORMATS
from berth.cli.safety import SafeTyper
from berth.settings import Settings, SettingsError, load_settings

__all__ = ["app"]

app = SafeTyper(
    help="Berth: a self-hosted container registry that behaves like Amazon ECR.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(ecr.app, name="ecr")
app.add_typer(iam.iam_app, name="iam")
app.add_typer(iam.sts_app, name="sts")
app.add_typer(policy.app, name="policy")
app.add_typer(admin.admin_app, name="admin")
app.add_typer(admin.lifecycle_app, name="lifecycle")
app.command("gc")(admin.gc)
app.command("audit")(audit.audit)
app.command("push")(images.push)
app.command("pull")(images.pull)
console = Console(stderr=True)


@app.callback()
def main(
    ctx: typer.Context,
    *,
    profile: Annotated[str | None, typer.Option(help="Use a profile from your AWS config.")] = None,
    region: Annotated[str | None, typer.Option(help="The AWS region to sign for.")] = None,
    endpoint_url: Annotated[
        str | None, typer.Option(help="The Berth server (else AWS_ENDPOINT_URL or the config).")
    ] = None,
    output: Annotated[
        str | None, typer.Option(help=f"Output format: {', '.join(FORMATS)}.")
    ] = None,
    query: Annotated[str | None, typer.Option(help="A JMESPath query on the response.")] = None,
    no_verify_ssl: Annotated[
        bool, typer.Option("--no-verify-ssl", help="Do not verify TLS certificates.")
    ] = False,
) -> None:
    """Berth: a self-hosted container registry that behaves like Amazon ECR."""
    if output is not None and output not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--output")
    ctx.obj = AwsOptions(profile, region, endpoint_url, output, query, not no_verify_ssl)


_H2_STREAM_WINDOW = 4 << 20
_H2_CONNECTION_WINDOW = 16 << 20
"""HTTP/2 flow-control windows: a client may send this much before Berth reads it. Larger than
granian's 1 MiB, they halve the time of an HTTP/2 push; they bound the memory one upload (and one
connection) can hold in buffers."""

ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Where data is kept.")]


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, None, **overrides)
    except SettingsError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None


async def _prepare(settings: Settings) -> None:
    """Run migrations once, before any worker starts."""
    from berth.app import create_app  # noqa: PLC0415 (see above)

    berth = create_app(settings)
    await berth.startup()
    await berth.shutdown()


@app.command()
def serve(
    *,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    workers: Annotated[int | None, typer.Option(help="Server worker processes.")] = None,
    download_port: Annotated[
        int | None,
        typer.Option(
            "--download-port",
            help="Also send blobs from this port with sendfile; blob GETs redirect there.",
        ),
    ] = None,
    upload_port: Annotated[
        int | None,
        typer.Option(
            "--upload-port",
            help="Also take blob upload bodies on this port; uploads' Locations point there.",
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="Serve HTTPS with this PEM certificate.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="The PEM private key of --tls-cert.")
    ] = None,
    dev_tls: Annotated[
        bool,
        typer.Option(
            "--dev-tls", help="Serve HTTPS with a local CA and certificate kept in DATA_DIR/tls."
        ),
    ] = False,
) -> None:
    """Run the registry."""
    from berth.app import resolve_account, root_credentials  # noqa: PLC0415 (see above)

    settings = _settings(
        config,
        host=host,
        port=port,
        data_dir=data_dir,
        workers=workers,
        download_port=download_port,
        upload_port=upload_port,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    if settings.download_port is not None:
        _check_port_free(settings.host, settings.download_port, "downloads")
    if settings.upload_port is not None:
        _check_port_free(settings.host, settings.upload_port, "uploads")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = _with_tls(settings, dev_tls)
    settings = resolve_account(settings)
    credentials = root_credentials(settings)
    if credentials.created:
        console.print(f"[bold]Root credentials (shown once; kept in {credentials.path}):[/bold]")
        console.print(f"  AWS_ACCESS_KEY_ID={credentials.access_key_id}")
        console.print(f"  AWS_SECRET_ACCESS_KEY={credentials.secret_access_key}")
    else:
        where = credentials.path or "BERTH_ROOT_* settings"
        console.print(f"Root access key {credentials.access_key_id} (secret in {where})")
    environment = {
        "BERTH_HOST": settings.host,
        "BERTH_PORT": str(settings.port),
        "BERTH_DATA_DIR": str(settings.data_dir.resolve()),
        "BERTH_ACCOUNT_ID": settings.account,
        "BERTH_ROOT_ACCESS_KEY_ID": credentials.access_key_id,
        "BERTH_ROOT_SECRET_ACCESS_KEY": credentials.secret_access_key,
    }
    if config is not None:
        environment["BERTH_CONFIG"] = str(config.resolve())
    if settings.download_port is not None:
        environment["BERTH_DOWNLOAD_PORT"] = str(settings.download_port)
    if settings.download_url is not None:
        environment["BERTH_DOWNLOAD_URL"] = settings.download_url
    if settings.upload_port is not None:
        environment["BERTH_UPLOAD_PORT"] = str(settings.upload_port)
    if settings.upload_url is not None:
        environment["BERTH_UPLOAD_URL"] = settings.upload_url
    if settings.tls_cert is not None and settings.tls_key is not None:
        environment["BERTH_TLS_CERT"] = str(settings.tls_cert.resolve())
        environment["BERTH_TLS_KEY"] = str(settings.tls_key.resolve())
    os.environ.update(environment)
    try:
        asyncio.run(_prepare(settings))
    except SettingsError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print(f"Account {settings.account}, region {settings.region}")
    scheme = "https" if settings.tls else "http"
    console.print(f"Berth listening on {scheme}://{_authority(settings)}")
    if settings.download_port is not None:
        where = settings.download_url or f"http://{_authority(settings, settings.download_port)}"
        console.print(f"Blob downloads sent from {where}")
    if settings.upload_port is not None:
        where = settings.upload_url or f"http://{_authority(settings, settings.upload_port)}"
        console.print(f"Blob uploads taken at {where}")
    _run_server(settings)


def _authority(settings: Settings, port: int | None = None) -> str:
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "localhost"
    port = port or settings.port
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_port_free(host: str, port: int, purpose: str) -> None:
    """Fail now, clearly, if a side port is taken: workers bind it only as they start."""
    from berth.api.side_ports import bind_port  # noqa: PLC0415 (see above)

    try:
        bind_port(host, port).close()
    except OSError as error:
        console.print(f"[red]error:[/red] cannot listen on {host}:{port} for {purpose}: {error}")
        raise typer.Exit(2) from None


def _with_tls(settings: Settings, dev_tls: bool) -> Settings:
    """Settings naming the certificate to serve: --tls-cert/--tls-key, or --dev-tls's own."""
    if dev_tls and settings.tls:
        console.print("[red]error:[/red] --dev-tls makes its own certificate; drop --tls-cert")
        raise typer.Exit(2)
    if dev_tls and settings.download_port is not None and settings.download_url is None:
        console.print(
            "[red]error:[/red] the download port speaks plain HTTP; with --dev-tls, set "
            "download_url to an HTTPS proxy in front of it"
        )
        raise typer.Exit(2)
    if dev_tls and settings.upload_port is not None and settings.upload_url is None:
        console.print(
            "[red]error:[/red] the upload port speaks plain HTTP; with --dev-tls, set "
            "upload_url to an HTTPS proxy in front of it"
        )
        raise typer.Exit(2)
    if dev_tls:
        from berth.cli.devtls import dev_names, ensure_dev_tls, trust_instructions  # noqa: PLC0415

        made = ensure_dev_tls(settings.data_dir, dev_names(settings.host))
        if made.created_ca:
            console.print(f"Created a development CA in {made.folder}")
        console.print(trust_instructions(made, _authority(settings)), soft_wrap=True, markup=False)
        return settings.with_overrides(tls_cert=made.server_cert, tls_key=made.server_key)
    for path in (settings.tls_cert, settings.tls_key):
        if path is not None and not path.is_file():
            console.print(f"[red]error:[/red] TLS file {path} does not exist")
            raise typer.Exit(2)
    return settings


def _run_server(settings: Settings) -> None:
    from granian import Granian  # noqa: PLC0415
    from granian.constants import HTTPModes, Interfaces, SSLProtocols  # noqa: PLC0415
    from granian.http import HTTP2Settings  # noqa: PLC0415

    Granian(
        target="berth.app:app_from_environment",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        log_level=settings.log_level,  # type: ignore[arg-type]
        http=HTTPModes.auto if settings.http2 else HTTPModes.http1,
        http2_settings=HTTP2Settings(
            initial_connection_window_size=_H2_CONNECTION_WINDOW,
            initial_stream_window_size=_H2_STREAM_WINDOW,
        ),
        ssl_cert=settings.tls_cert,
        ssl_key=settings.tls_key,
        ssl_protocol_min=SSLProtocols.tls12,
    ).serve()


@app.command()
def token(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Print a registry login token for the account root (password for user AWS)."""
    from berth.app import create_app, resolve_account, root_credentials  # noqa: PLC0415 (see above)

    settings = resolve_account(_settings(config, data_dir=data_dir))
    credentials = root_credentials(settings)

    async def issue() -> str:
        berth = create_app(settings)
        await berth.startup()
        try:
            return berth.issue_root_token(credentials.access_key_id)
        finally:
            await berth.shutdown()

    typer.echo(asyncio.run(issue()))


if __name__ == "__main__":
    app()
