"""Image policy on real images: root user, size limit, secrets in any layer (also deleted ones),
HEALTHCHECK — each passing once and failing with the rule named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.smoke_images import (
    BASE,
    SERVER_JS,
    SERVICE_DOCKERFILE,
    images,
    run_smoke,
    smoke_config,
)

pytestmark = pytest.mark.integration

AS_ROOT = f"""\
FROM {BASE}
WORKDIR /srv
COPY server.js ./
CMD ["node", "server.js"]
"""

# A .env baked into one layer and deleted in the next: gone from the filesystem, not the image.
ENV_DELETED_LATER = SERVICE_DOCKERFILE.replace(
    "USER 1000:1000",
    "RUN echo 'API_TOKEN=hoist-test-not-a-real-token' > /srv/.env\n"
    "RUN rm /srv/.env\n"
    "USER 1000:1000",
)

# Secret-looking files of each kind, next to look-alikes that are not secrets.
MIXED_FILES = SERVICE_DOCKERFILE.replace(
    "USER 1000:1000",
    "RUN mkdir -p /home/node/.ssh /etc/app"
    " && printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nAAAA\\n-----END OPENSSH PRIVATE KEY"
    "-----\\n' > /home/node/.ssh/id_rsa"
    " && printf '//registry.npmjs.org/:_authToken=npm_notreal\\n' > /srv/.npmrc"
    " && printf -- '-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n'"
    " > /etc/app/tls.key"
    " && printf -- '-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n'"
    " > /etc/app/ca.pem"
    " && printf 'registry=https://npm.example.invalid/\\n' > /etc/app/.npmrc"
    " && printf 'API_TOKEN=\\n' > /srv/.env.example\n"
    "USER 1000:1000",
)


@pytest.fixture(scope="module")
def policy_images(docker_client, node_base):  # type: ignore[no-untyped-def]
    yield from images(
        docker_client,
        SERVICE_DOCKERFILE,
        AS_ROOT,
        ENV_DELETED_LATER,
        MIXED_FILES,
        **{"server.js": SERVER_JS},
    )


def test_clean_non_root_image_within_size_passes_every_policy(  # type: ignore[no-untyped-def]
    docker_client, policy_images, tmp_path: Path
):
    smoke = smoke_config(tmp_path, {"policy": {"max_size": "1GB"}, "stop_timeout": 5})

    run = run_smoke(docker_client, policy_images[0], smoke, tmp_path)

    assert run.error is None, run.lines
    assert "USER 1000:1000" in run.line("PASS  policy: runs as non-root")
    assert "<= 1.0 GB" in run.line("PASS  policy: size within max_size")
    assert run.line("PASS  policy: no secrets in any layer")
    assert run.line("WARN  policy: HEALTHCHECK declared")  # a warning only: the stage passed


def test_image_running_as_root_fails(docker_client, policy_images, tmp_path: Path):  # type: ignore[no-untyped-def]
    smoke = smoke_config(tmp_path, {"policy": {"secrets": False}, "stop_timeout": 5})

    run = run_smoke(docker_client, policy_images[1], smoke, tmp_path)

    assert run.error is not None
    assert run.error.message == (
        "smoke: image runs as root (USER is not set) [policy: runs as non-root]"
    )
    assert "expected: a non-root USER" in run.error.details
    assert run.line("PASS  service: GET /healthz")  # the other checks still ran


def test_root_check_can_be_turned_off(docker_client, policy_images, tmp_path: Path):  # type: ignore[no-untyped-def]
    smoke = smoke_config(
        tmp_path, {"policy": {"secrets": False, "non_root": False}, "stop_timeout": 5}
    )

    run = run_smoke(docker_client, policy_images[1], smoke, tmp_path)

    assert run.error is None, run.lines
    assert not any("non-root" in line for line in run.lines)


def test_image_over_max_size_fails(docker_client, policy_images, tmp_path: Path):  # type: ignore[no-untyped-def]
    smoke = smoke_config(tmp_path, {"policy": {"secrets": False, "max_size": "100MB"}})

    run = run_smoke(docker_client, policy_images[0], smoke, tmp_path)

    assert run.error is not None
    assert "over max_size 100.0 MB [policy: size within max_size]" in run.error.message
    assert run.error.message.startswith("smoke: image is 2")  # ~218 MB: the Debian base


def test_env_file_deleted_in_a_later_layer_is_still_found(  # type: ignore[no-untyped-def]
    docker_client, policy_images, tmp_path: Path
):
    smoke = smoke_config(tmp_path, {"stop_timeout": 5})

    run = run_smoke(docker_client, policy_images[2], smoke, tmp_path)

    assert run.error is not None
    message = run.error.message
    assert "secret-looking file in the image: /srv/.env: dotenv file in layer" in message
    assert "(RUN), deleted in layer" in message and "but still in the image" in message
    assert message.endswith("[policy: no secrets in any layer]")
    assert "hoist-test-not-a-real-token" not in message + run.error.details


def test_each_secret_kind_is_found_and_look_alikes_are_not(  # type: ignore[no-untyped-def]
    docker_client, policy_images, tmp_path: Path
):
    from pipeline.smoke.layers import scan_image

    found = {f.path: f.reason for f in scan_image(docker_client, policy_images[3])}
    assert found == {
        "/home/node/.ssh/id_rsa": "SSH private key",
        "/srv/.npmrc": ".npmrc with an auth token",
        "/etc/app/tls.key": "private key",
    }
    allow = ["/etc/app/*", "/home/node/.ssh/*"]
    smoke = smoke_config(tmp_path, {"policy": {"allow_files": allow}, "stop_timeout": 5})
    run = run_smoke(docker_client, policy_images[3], smoke, tmp_path)
    assert run.error is not None
    assert "/srv/.npmrc: .npmrc with an auth token in layer" in run.error.message
    assert "more)" not in run.error.message  # the allowed paths are not reported


def test_missing_healthcheck_fails_only_when_required(  # type: ignore[no-untyped-def]
    docker_client, policy_images, tmp_path: Path
):
    smoke = smoke_config(tmp_path, {"policy": {"secrets": False, "healthcheck": "require"}})

    run = run_smoke(docker_client, policy_images[0], smoke, tmp_path)

    assert run.error is not None
    assert "image declares no HEALTHCHECK [policy: HEALTHCHECK declared]" in run.error.message
