"""Amazon ECR: private ``ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME`` and ``public.ecr.aws``.

Credentials: the AWS default credential chain (``AWS_ACCESS_KEY_ID`` +
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, web identity from
aws-actions/configure-aws-credentials, instance roles) → ``GetAuthorizationToken`` in the
region parsed from the host (ECR Public: ``ecr-public`` in us-east-1). The token is valid for
12 hours; ``expires_at`` lets the push engine fetch a new one when a run outlives it.
``options: {create_repository: true}`` creates a missing repository before the push (ECR,
unlike most registries, does not create repositories on push).

boto3 is imported only here, only when an ECR target is used (``pip install 'hoist[aws]'``).
``AWS_ENDPOINT_URL_ECR`` / ``AWS_ENDPOINT_URL_ECR_PUBLIC`` are honoured, as boto3 does.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pipeline.errors import PipelineError, RegistryError
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
    require_depth,
    target_from,
)
from pipeline.result import Log

PRIVATE_HOST = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$"
)
PUBLIC_HOST = "public.ecr.aws"
PUBLIC_REGION = "us-east-1"  # ECR Public's API lives in us-east-1 only
OPTIONS = {"create_repository": bool}
AWS_HINT = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
    "(in GitHub Actions: aws-actions/configure-aws-credentials)"
)
_TRANSIENT_CODES = ("Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure")


def make_target(config: TargetConfig, image: str, environ: Mapping[str, str]) -> Target:
    check_options(config, OPTIONS)
    if not config.repository:
        raise config_error(
            config,
            "repository",
            "is required for kind ecr",
            hint="ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME or public.ecr.aws/ALIAS/NAME",
        )
    host, path = parse_repository(config, config.repository, default_host=None)
    if host == PUBLIC_HOST:
        require_depth(config, host, path, 2, None, "ALIAS/NAME")
    elif not PRIVATE_HOST.match(host):
        raise config_error(
            config,
            "repository",
            f"{host} is not an ECR registry",
            hint="ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME or public.ecr.aws/ALIAS/NAME",
        )
    return target_from(config, host, path)


def is_public(target: Target) -> bool:
    return target.registry == PUBLIC_HOST


def region(target: Target) -> str:
    match = PRIVATE_HOST.match(target.registry)
    return match["region"] if match else PUBLIC_REGION


def account(target: Target) -> str | None:
    match = PRIVATE_HOST.match(target.registry)
    return match["account"] if match else None


def credentials(target: Target, environ: Mapping[str, str]) -> Credentials:
    client = _client(target, environ)
    with _aws_errors(target, "GetAuthorizationToken"):
        if is_public(target):
            data = client.get_authorization_token()["authorizationData"]
        else:
            reply = client.get_authorization_token(registryIds=[account(target)])
            data = reply["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    expires = data.get("expiresAt")
    return Credentials(
        username,
        password,
        source="AWS credential chain -> GetAuthorizationToken",
        expires_at=expires.timestamp() if expires is not None else None,
    )


def check_credentials(target: Target, environ: Mapping[str, str]) -> None:
    """What is known to be missing without asking AWS: boto3, one half of the key pair, or
    the profile ``AWS_PROFILE`` names. Whether the rest of the chain (web identity, SSO, an
    instance or task role) yields credentials takes a call to AWS — the metadata service, STS
    — so the check beside lint and build asks, fetching the token as the push will."""
    halves = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    if any(environ.get(v) for v in halves) and not all(environ.get(v) for v in halves):
        missing = " and ".join(v for v in halves if not environ.get(v))
        raise no_credentials(target, f"set {missing} too", why="half an AWS access key")
    _session(target, environ)


def prepare(target: Target, environ: Mapping[str, str], log: Log) -> None:
    """Create the repository first when ``options.create_repository`` asks for it."""
    if not target.options.get("create_repository"):
        return
    client = _client(target, environ)
    ids: dict[str, Any] = {} if is_public(target) else {"registryId": account(target)}
    # ECR Public names a repository without the registry alias (public.ecr.aws/ALIAS/NAME).
    name = target.path.split("/", 1)[1] if is_public(target) else target.path
    with _aws_errors(target, "CreateRepository"):
        try:
            client.describe_repositories(repositoryNames=[name], **ids)
            return
        except client.exceptions.RepositoryNotFoundException:
            pass
        with contextlib.suppress(client.exceptions.RepositoryAlreadyExistsException):
            client.create_repository(repositoryName=name, **ids)
            log(f"[{target.name}] created repository {target.repository}")


def _session(target: Target, environ: Mapping[str, str]) -> Any:
    """A boto3 session on the keys, else the profile (unknown profiles refused, offline)."""
    boto3 = optional_import(target, "boto3", "aws", AWS_HINT)
    keys = {
        "aws_access_key_id": environ.get("AWS_ACCESS_KEY_ID"),
        "aws_secret_access_key": environ.get("AWS_SECRET_ACCESS_KEY"),
        "aws_session_token": environ.get("AWS_SESSION_TOKEN"),
    }
    profile = None if keys["aws_access_key_id"] else environ.get("AWS_PROFILE") or None
    with _aws_errors(target, "credentials"):
        return boto3.session.Session(profile_name=profile, **keys)


def _client(target: Target, environ: Mapping[str, str]) -> Any:
    """An ``ecr`` / ``ecr-public`` client from the default chain; refuses early without keys."""
    session = _session(target, environ)
    with _aws_errors(target, "credentials"):
        if session.get_credentials() is None:
            raise no_credentials(target, AWS_HINT, why="no AWS credentials found")
    service = "ecr-public" if is_public(target) else "ecr"
    variable = "AWS_ENDPOINT_URL_ECR_PUBLIC" if is_public(target) else "AWS_ENDPOINT_URL_ECR"
    endpoint = environ.get(variable) or environ.get("AWS_ENDPOINT_URL") or None
    return session.client(service, region_name=region(target), endpoint_url=endpoint)


@contextlib.contextmanager
def _aws_errors(target: Target, operation: str) -> Iterator[None]:
    """botocore's exceptions → one line: missing keys, refused (no retry) or transient."""
    from botocore import exceptions as aws

    try:
        yield
    except (aws.NoCredentialsError, aws.PartialCredentialsError):
        raise no_credentials(target, AWS_HINT, why="no AWS credentials found") from None
    except aws.ProfileNotFound as exc:
        raise no_credentials(target, AWS_HINT, why=str(exc)) from None
    except aws.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Error"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        transient = status >= 500 or code in _TRANSIENT_CODES
        raise RegistryError(
            target.name,
            f"ECR {operation}: {code}: {error.get('Message', '')}".rstrip(": "),
            transient=transient,
            hint=None if transient else "the AWS identity needs ECR push permissions here",
        ) from None
    except (aws.EndpointConnectionError, aws.ConnectionClosedError, aws.ConnectTimeoutError,
            aws.ReadTimeoutError) as exc:  # fmt: skip
        raise RegistryError(target.name, f"ECR {operation}: {exc}", transient=True) from None
    except aws.BotoCoreError as exc:
        raise PipelineError(f"{target.name}: ECR {operation}: {exc}") from None


KIND = RegistryKind(
    "ecr", make_target, credentials, check_credentials=check_credentials, prepare=prepare
)
