"""How each registry kind forms and validates references (no engine, no network)."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError, PipelineError
from pipeline.push.registries.base import TargetConfig
from pipeline.push.registries.kinds import resolve_target, select_targets


def target(kind: str, repository: str | None, environ: dict[str, str] | None = None, **kw):  # type: ignore[no-untyped-def]
    config = TargetConfig(kind=kind, name=kind, repository=repository, **kw)
    return resolve_target(config, "acme/node-app", environ or {})


def refused(kind: str, repository: str | None, environ: dict[str, str] | None = None, **kw) -> str:
    with pytest.raises(ConfigError) as caught:
        target(kind, repository, environ, **kw)
    return str(caught.value)


@pytest.mark.parametrize(
    ("repository", "canonical"),
    [
        ("acme/app", "docker.io/acme/app"),
        ("nginx", "docker.io/library/nginx"),
        ("docker.io/acme/app", "docker.io/acme/app"),
        ("index.docker.io/acme/app", "docker.io/acme/app"),
        ("registry-1.docker.io/library/app", "docker.io/library/app"),
        ("https://index.docker.io/acme/app/", "docker.io/acme/app"),
    ],
)
def test_dockerhub_forms(repository: str, canonical: str) -> None:
    resolved = target("dockerhub", repository)
    assert resolved.repository == canonical
    assert resolved.endpoint == "docker.io"
    assert resolved.push_repository == canonical


def test_dockerhub_default_is_the_token_owners_namespace() -> None:
    resolved = target("dockerhub", None, {"DOCKERHUB_USERNAME": "Acme"})
    assert resolved.repository == "docker.io/acme/node-app"
    assert "DOCKERHUB_USERNAME" in refused("dockerhub", None)


@pytest.mark.parametrize(
    ("repository", "problem"),
    [
        ("Acme/App", "must be lower case (use docker.io/acme/app)"),
        ("acme/team/app", "NAMESPACE/NAME (two levels)"),
        ("ghcr.io/acme/app", "is on ghcr.io, not Docker Hub"),
        ("acme/app:1.0", "must not carry a tag or digest"),
        ("acme/app@sha256:abc", "must not carry a tag or digest"),
        ("acme/-app", "is not a valid repository"),
    ],
)
def test_dockerhub_refusals(repository: str, problem: str) -> None:
    message = refused("dockerhub", repository)
    assert problem in message
    assert message.startswith("pipeline.yaml: registries[dockerhub].repository: ")


def test_ghcr_lower_cases_the_owner_only() -> None:
    assert target("ghcr", "ghcr.io/Acme-Corp/app").repository == "ghcr.io/acme-corp/app"
    assert target("ghcr", "Acme/app/api").repository == "ghcr.io/acme/app/api"
    assert "use ghcr.io/acme/app" in refused("ghcr", "ghcr.io/acme/App")
    assert "OWNER/NAME" in refused("ghcr", "ghcr.io/app")
    assert "not ghcr.io" in refused("ghcr", "docker.io/acme/app")


def test_ghcr_default_comes_from_github_actions() -> None:
    resolved = target("ghcr", None, {"GITHUB_REPOSITORY_OWNER": "Octo-Org"})
    assert resolved.repository == "ghcr.io/octo-org/node-app"
    assert "GITHUB_REPOSITORY_OWNER is unset" in refused("ghcr", None)


def test_ecr_private_host_gives_account_and_region() -> None:
    from pipeline.push.registries import ecr

    resolved = target("ecr", "123456789012.dkr.ecr.eu-central-1.amazonaws.com/team/app")
    assert (ecr.account(resolved), ecr.region(resolved)) == ("123456789012", "eu-central-1")
    fips = target("ecr", "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app")
    assert ecr.region(fips) == "us-gov-west-1"
    china = target("ecr", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app")
    assert ecr.region(china) == "cn-north-1"


def test_ecr_public_and_refusals() -> None:
    from pipeline.push.registries import ecr

    public = target("ecr", "public.ecr.aws/a1b2c3/app")
    assert ecr.is_public(public) and ecr.region(public) == "us-east-1"
    assert "ALIAS/NAME" in refused("ecr", "public.ecr.aws/app")
    assert "is not an ECR registry" in refused("ecr", "12345.dkr.ecr.eu-west-1.amazonaws.com/app")
    assert "is required for kind ecr" in refused("ecr", None)
    assert "expected bool" in refused(
        "ecr", "public.ecr.aws/a/b", options={"create_repository": "yes"}
    )
    assert "unknown option" in refused("ecr", "public.ecr.aws/a/b", options={"create": True})


@pytest.mark.parametrize(
    "repository",
    [
        "gcr.io/my-project/app",
        "eu.gcr.io/my-project/team/app",
        "gcr.io/example.com/my-project/app",
        "europe-west1-docker.pkg.dev/my-project/images/app",
        "us-docker.pkg.dev/my-project/images/team/app",
    ],
)
def test_gcr_and_artifact_registry_forms(repository: str) -> None:
    assert target("gcr", repository).repository == repository


@pytest.mark.parametrize(
    ("repository", "problem"),
    [
        ("europe-west1-docker.pkg.dev/my-project/app", "PROJECT/REPOSITORY/IMAGE"),
        ("gcr.io/app", "PROJECT/IMAGE"),
        ("gcr.io/1project/app", "is not a Google Cloud project id"),
        ("docker.pkg.dev/my-project/images/app", "neither GCR nor Artifact Registry"),
        ("europe-west1-docker.pkg.dev/My-Project/images/app", "must be lower case"),
    ],
)
def test_gcr_refusals(repository: str, problem: str) -> None:
    assert problem in refused("gcr", repository)


def test_acr_forms_and_refusals() -> None:
    assert target("acr", "MyRegistry.azurecr.io/team/app").repository == (
        "myregistry.azurecr.io/team/app"
    )
    assert target("acr", "contoso1.azurecr.cn/app").registry == "contoso1.azurecr.cn"
    assert "not an Azure Container Registry" in refused("acr", "acr.azurecr.io/app")
    assert "not an Azure Container Registry" in refused("acr", "my-reg.azurecr.io/app")


def test_quay_forms_and_refusals() -> None:
    assert target("quay", "acme/app").repository == "quay.io/acme/app"
    assert target("quay", "quay.internal:8443/acme/team/app").registry == "quay.internal:8443"
    assert "NAMESPACE/NAME (two levels)" in refused("quay", "quay.io/acme/team/app")
    assert "is required for kind quay" in refused("quay", None)


def test_generic_needs_a_host() -> None:
    assert target("generic", "harbor.example.com/team/app").repository == (
        "harbor.example.com/team/app"
    )
    assert "has no registry host" in refused("generic", "team/app")


def test_endpoint_changes_only_the_address() -> None:
    resolved = target("ghcr", "ghcr.io/Acme/app", endpoint="https://127.0.0.1:5000/")
    assert resolved.repository == "ghcr.io/acme/app"
    assert resolved.endpoint == "127.0.0.1:5000"
    assert resolved.push_repository == "127.0.0.1:5000/acme/app"
    assert resolved.reference("1.0") == "ghcr.io/acme/app:1.0"
    assert "is not HOST[:PORT]" in refused("ghcr", "ghcr.io/a/b", endpoint="bad host")


def test_select_targets_by_name_or_kind() -> None:
    configured = [
        TargetConfig(kind="ghcr", name="ghcr", repository="ghcr.io/acme/app"),
        TargetConfig(kind="ecr", name="prod", repository="public.ecr.aws/acme/app"),
        TargetConfig(kind="dockerhub", name="hub", repository="acme/app"),
    ]
    names = [t.name for t in select_targets(configured, ("ghcr", "ecr"), "app", {})]
    assert names == ["ghcr", "prod"]
    assert [t.name for t in select_targets(configured, ("hub",), "app", {})] == ["hub"]
    assert len(select_targets(configured, (), "app", {})) == 3
    with pytest.raises(PipelineError, match=r"--to quay: no such target in pipeline.yaml"):
        select_targets(configured, ("quay",), "app", {})


def test_cloud_sdks_are_imported_only_when_their_kind_fetches_credentials() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pipeline.push.registries.base import TargetConfig\n"
        "from pipeline.push.registries.kinds import resolve_target\n"
        "import pipeline.push.stage, pipeline.push.registries.ecr, pipeline.push.registries.gcr\n"
        "import pipeline.push.registries.acr\n"
        "resolve_target(TargetConfig('ecr', 'e', 'public.ecr.aws/a/b'), 'app', {})\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'google.auth', 'azure.identity')"
        " if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
