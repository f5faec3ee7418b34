"""Azure Container Registry: ``NAME.azurecr.io/PATH`` (also ``.azurecr.cn`` / ``.azurecr.us``).

Credentials, in this order:
1. a service principal: ``AZURE_CLIENT_ID`` + ``AZURE_CLIENT_SECRET`` are the docker user name
   and password (the SP needs the AcrPush role);
2. an Azure AD token from azure-identity's ``DefaultAzureCredential`` (workload identity in
   GitHub Actions, managed identity, ``az login``), exchanged at the registry's
   ``/oauth2/exchange`` for an ACR refresh token, which docker accepts as the password of the
   all-zero user — the same exchange ``az acr login`` performs.
azure-identity is imported only on the second path (``pip install 'hoist[azure]'``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline.errors import RegistryError
from pipeline.push.registries.base import (
    Credentials,
    RegistryKind,
    Target,
    TargetConfig,
    check_options,
    config_error,
    no_credentials,
    optional_import,
    parse_repository,
    target_from,
)
from pipeline.push.registry_api import RegistryClient

ACR_HOST = re.compile(r"^[a-z0-9]{5,50}\.azurecr\.(?:io|cn|us)$")
TOKEN_USER = "00000000-0000-0000-0000-000000000000"
AAD_SCOPE = "https://containerregistry.azure.net/.default"
AZURE_HINT = (
    "set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service principal with the AcrPush role)"
)


def make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    check_options(config, {})
    if not config.repository:
        raise config_error(config, "repository", "is required for kind acr", "NAME.azurecr.io/APP")
    host, path = parse_repository(config, config.repository, default_host=None)
    if not ACR_HOST.match(host):
        raise config_error(
            config,
            "repository",
            f"{host} is not an Azure Container Registry",
            hint="NAME.azurecr.io, NAME being 5-50 lower-case letters and digits",
        )
    return target_from(config, host, path)


def credentials(target: Target, environ: Mapping[str, str]) -> Credentials:
    principal = _service_principal(environ)
    if principal is not None:
        return principal
    hint = _missing_hint(environ)
    identity = optional_import(target, "azure.identity", "azure", hint)
    token, expires_on = aad_token(target, identity, hint)
    refresh = exchange(target, token, environ.get("AZURE_TENANT_ID"))
    return Credentials(
        TOKEN_USER, refresh, source="azure-identity -> ACR token exchange", expires_at=expires_on
    )


def check_credentials(target: Target, environ: Mapping[str, str]) -> None:
    """What is known to be missing without asking Azure: azure-identity, when there is no
    service principal. Whether its default chain finds an identity (workload identity, a
    managed identity, ``az login``) takes a call to Azure AD — the check beside lint and build
    asks, exchanging the token as the push will."""
    if _service_principal(environ) is None:
        optional_import(target, "azure.identity", "azure", _missing_hint(environ))


def _service_principal(environ: Mapping[str, str]) -> Credentials | None:
    client_id, secret = environ.get("AZURE_CLIENT_ID"), environ.get("AZURE_CLIENT_SECRET")
    if client_id and secret:
        return Credentials(client_id, secret, source="AZURE_CLIENT_ID/AZURE_CLIENT_SECRET")
    return None


def _missing_hint(environ: Mapping[str, str]) -> str:
    """AZURE_HINT naming only the variables that are not set."""
    missing = " and ".join(
        v for v in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET") if not environ.get(v)
    )
    return AZURE_HINT.replace("AZURE_CLIENT_ID and AZURE_CLIENT_SECRET", missing)


def aad_token(target: Target, identity: Any, hint: str) -> tuple[str, float]:
    """An Azure AD access token for ACR from azure-identity's default chain."""
    from azure.core.exceptions import ClientAuthenticationError

    try:
        access = identity.DefaultAzureCredential().get_token(AAD_SCOPE)
    except ClientAuthenticationError:
        raise no_credentials(
            target, f"{hint}, or sign in for azure-identity (az login, workload identity)",
            why="no Azure credentials found",
        ) from None  # fmt: skip
    return str(access.token), float(access.expires_on)


def exchange(target: Target, aad_access_token: str, tenant: str | None) -> str:
    """Swap an AAD token for an ACR refresh token at ``https://ENDPOINT/oauth2/exchange``."""
    form = {
        "grant_type": "access_token",
        "service": target.registry,
        "access_token": aad_access_token,
    }
    if tenant:
        form["tenant"] = tenant
    reply = RegistryClient(target.name, target.endpoint, None).post_form(
        "/oauth2/exchange", form, "ACR token exchange"
    )
    refresh = reply.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise RegistryError(target.name, "ACR token exchange: no refresh_token", transient=False)
    return refresh


KIND = RegistryKind("acr", make_target, credentials, check_credentials=check_credentials)
