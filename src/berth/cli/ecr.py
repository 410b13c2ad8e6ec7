"""``berth ecr``: every ECR operation from botocore's model, and the aws CLI's login helpers."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import typer

from berth.cli.aws import AwsOptions, aws_errors, options_of
from berth.cli.model import service_app

__all__ = ["app", "login_password"]

app = service_app("ecr", "Amazon ECR operations against a Berth server (as `aws ecr`).")

ProfileOption = Annotated[str | None, typer.Option(help="Use a profile from your credential file.")]
RegionOption = Annotated[str | None, typer.Option(help="The region to use.")]
EndpointOption = Annotated[str | None, typer.Option(help="Override the endpoint URL.")]


def _authorization(options: AwsOptions, registry_ids: list[str] | None = None) -> list[Any]:
    with aws_errors():
        client = options.client("ecr")
        kwargs = {"registryIds": registry_ids} if registry_ids else {}
        response = client.get_authorization_token(**kwargs)
    return list(response["authorizationData"])


def _password(data: dict[str, Any]) -> str:
    decoded = base64.b64decode(data["authorizationToken"]).decode()
    return decoded.split(":", 1)[1]


def login_password(options: AwsOptions) -> tuple[str, str]:
    """The registry password from GetAuthorizationToken, and the proxy endpoint it is for."""
    data = _authorization(options)[0]
    return _password(data), str(data["proxyEndpoint"])


@app.command("get-login-password")
def get_login_password(
    ctx: typer.Context,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Print a password for `docker login -u AWS --password-stdin` (valid 12 hours)."""
    options = options_of(ctx).merged(profile=profile, region=region, endpoint_url=endpoint_url)
    typer.echo(login_password(options)[0])


@app.command("get-login")
def get_login(
    ctx: typer.Context,
    *,
    registry_ids: Annotated[
        list[str] | None, typer.Option(help="Registry (account) ids to log in to.")
    ] = None,
    include_email: Annotated[
        bool, typer.Option("--include-email/--no-include-email", help="Add `-e none`.")
    ] = True,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Print a `docker login` command line for each registry (as aws CLI v1 does)."""
    options = options_of(ctx).merged(profile=profile, region=region, endpoint_url=endpoint_url)
    for data in _authorization(options, registry_ids):
        email = " -e none" if include_email else ""
        typer.echo(f"docker login -u AWS -p {_password(data)}{email} {data['proxyEndpoint']}")
