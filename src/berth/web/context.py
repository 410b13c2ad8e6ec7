"""What the console's handlers share, built once by ``console_app``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

from berth.auth.credentials import CredentialStore
from berth.meta.catalog import CatalogReader
from berth.services import Services
from berth.services.catalog import CatalogService
from berth.services.console import ConsoleSignIn
from berth.services.console_iam import ConsoleIam
from berth.services.console_policies import ConsolePolicies
from berth.services.image_details import ImageDetailService
from berth.web.render import Renderer
from berth.web.sessions import SessionSigner

__all__ = ["Console", "console_of", "registry_host"]


@dataclass(frozen=True, slots=True)
class Console:
    services: Services
    catalog: CatalogService
    details: ImageDetailService
    policies: ConsolePolicies
    iam: ConsoleIam
    sign_in: ConsoleSignIn
    credentials: CredentialStore
    sessions: SessionSigner
    renderer: Renderer
    public_url: str | None

    @classmethod
    def build(
        cls,
        services: Services,
        reader: CatalogReader,
        credentials: CredentialStore,
        key: bytes,
        public_url: str | None,
    ) -> Console:
        access = services.access
        return cls(
            services=services,
            catalog=CatalogService(reader, access),
            details=ImageDetailService(services.meta, services.blobs, access, services.images),
            policies=ConsolePolicies(access, services.repositories, services.lifecycle),
            iam=ConsoleIam(services.meta, access, services.identities),
            sign_in=ConsoleSignIn(services.meta, services.identities),
            credentials=credentials,
            sessions=SessionSigner(key),
            renderer=Renderer(),
            public_url=public_url,
        )


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def registry_host(request: Request, console: Console) -> str:
    """The host name clients pull from: the public URL's, else the one this request came to."""
    if console.public_url:
        return urlsplit(console.public_url).netloc or console.public_url
    return request.headers.get("host", "localhost")
