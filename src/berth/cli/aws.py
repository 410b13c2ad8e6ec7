"""Talking to a Berth server as the aws CLI talks to AWS: botocore's own profiles and clients.

Credentials, region and endpoint come from botocore's session machinery (``~/.aws/config``,
``~/.aws/credentials``, ``AWS_PROFILE``, ``AWS_*`` variables, ``AWS_ENDPOINT_URL[_ECR]``, profiles
with ``role_arn`` and ``source_profile``); the global options only override them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, NoReturn

import botocore.exceptions
import botocore.session
import typer
from rich.console import Console

__all__ = [
    "EXIT_CONFIG",
    "EXIT_GENERAL",
    "EXIT_SERVICE",
    "EXIT_USAGE",
    "AwsOptions",
    "aws_errors",
    "fail",
    "stderr",
]

EXIT_SERVICE = 254
"""The service answered with an error (as the aws CLI v2)."""
EXIT_USAGE = 252
"""The command line parsed, but its values are not valid for the operation."""
EXIT_CONFIG = 253
"""Credentials, region or profile configuration is missing or wrong."""
EXIT_GENERAL = 255
"""Anything else: the endpoint cannot be reached, a local file cannot be read."""

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_GENERAL) -> NoReturn:
    """Print ``message`` on stderr (no markup is interpreted) and exit with ``code``."""
    stderr.print(message, markup=False)
    raise typer.Exit(code)


@dataclass(frozen=True, slots=True)
class AwsOptions:
    """The global options; None means "as botocore finds it"."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    output: str | None = None
    query: str | None = None
    verify_ssl: bool = True

    def merged(self, **values: Any) -> AwsOptions:
        """These options, with the non-None ``values`` given on a command taking precedence."""
        given = {key: value for key, value in values.items() if value is not None}
        return replace(self, **given)

    def session(self) -> botocore.session.Session:
        session = botocore.session.Session(profile=self.profile)
        session.user_agent_name = "berth-cli"
        return session

    def output_format(self) -> str:
        if self.output is not None:
            return self.output
        configured = self.session().get_config_variable("output")
        return str(configured) if configured else "json"

    def client(self, service: str) -> Any:
        """A botocore client for ``service`` (``ecr``, ``iam``, ``sts``)."""
        session = self.session()
        region = self.region or session.get_config_variable("region")
        if region is None and service in ("iam", "sts"):
            region = "us-east-1"
        if region is None:
            fail(
                "You must specify a region. You can also configure your region by running "
                '"aws configure" or set AWS_DEFAULT_REGION.',
                EXIT_CONFIG,
            )
        return session.create_client(
            service, region_name=region, endpoint_url=self.endpoint_url, verify=self.verify_ssl
        )


def options_of(ctx: typer.Context) -> AwsOptions:
    """The global options stored on the root context by the main callback."""
    root = ctx.find_root()
    found = root.obj
    return found if isinstance(found, AwsOptions) else AwsOptions()


def client_error_message(error: botocore.exceptions.ClientError) -> str:
    details = error.response.get("Error", {})
    code = details.get("Code", "Unknown")
    message = details.get("Message", "")
    return (
        f"An error occurred ({code}) when calling the {error.operation_name} operation: {message}"
    )


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn botocore's exceptions into the aws CLI's messages and exit codes, never a traceback."""
    try:
        yield
    except botocore.exceptions.ClientError as error:
        fail(client_error_message(error), EXIT_SERVICE)
    except botocore.exceptions.ParamValidationError as error:
        fail(f"\n{error}", EXIT_USAGE)
    except (
        botocore.exceptions.NoCredentialsError,
        botocore.exceptions.PartialCredentialsError,
        botocore.exceptions.ProfileNotFound,
        botocore.exceptions.NoRegionError,
        botocore.exceptions.InvalidConfigError,
    ) as error:
        fail(str(error), EXIT_CONFIG)
    except botocore.exceptions.EndpointConnectionError as error:
        fail(f"\n{error}", EXIT_GENERAL)
    except botocore.exceptions.BotoCoreError as error:
        fail(str(error), EXIT_GENERAL)


def write(text: str) -> None:
    sys.stdout.write(text)
