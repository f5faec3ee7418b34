"""Where a pipeline.yaml without ``registries:`` pushes: GHCR under the repository's own name in
GitHub Actions (with the job's GITHUB_TOKEN), the embedded registry anywhere else — decided by
the run's environment, never while the file is read.

The pushes themselves are in tests/integration/test_adoption.py (act, a ``ghcr`` target whose
endpoint is a local registry); here, the decision and what follows from it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.project import PipelineConfig, load_config
from pipeline.push.names import image_names
from pipeline.push.registries.kinds import MissingCredentials, check_targets, select_targets
from pipeline.push.settings import default_registries

ACTIONS = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "Acme-Corp/Shop-API",
    "GITHUB_REPOSITORY_OWNER": "Acme-Corp",
    "GITHUB_ACTOR": "octocat",
    "GITHUB_TOKEN": "ghs_job-token",
}


def config(tmp_path: Path, extra: str = "") -> PipelineConfig:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    path = tmp_path / "pipeline.yaml"
    path.write_text(f"image: shop\nbuild: {{context: .}}\n{extra}")
    return load_config(path)


def test_outside_actions_the_default_is_the_embedded_registry() -> None:
    [target] = default_registries({})
    assert (target.kind, target.name) == ("local", "local")
    assert default_registries({"GITHUB_ACTIONS": "false", "GITHUB_REPOSITORY": "a/b"}) == [target]


def test_in_actions_the_default_is_the_repositorys_own_ghcr_package_lower_cased() -> None:
    [target] = default_registries(ACTIONS)
    assert (target.kind, target.name) == ("ghcr", "ghcr")
    assert target.repository == "ghcr.io/acme-corp/shop-api"


def test_loading_does_not_look_at_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ACTIONS.items():
        monkeypatch.setenv(name, value)
    loaded = config(tmp_path)
    assert [t.kind for t in loaded.registries] == ["local"]
    assert not loaded.registries_given


def test_a_run_in_actions_pushes_to_ghcr_with_the_job_token(tmp_path: Path) -> None:
    run = config(tmp_path).in_environment(ACTIONS)
    [target] = check_targets(run.registries, (), run.image, ACTIONS)  # credentials present
    assert target.repository == "ghcr.io/acme-corp/shop-api"
    assert target.endpoint == "ghcr.io"
    assert image_names(run.image, run.registries, ACTIONS) == ["shop", "ghcr.io/acme-corp/shop-api"]
    without_token = {k: v for k, v in ACTIONS.items() if k != "GITHUB_TOKEN"}
    with pytest.raises(MissingCredentials, match="GITHUB_TOKEN"):
        check_targets(run.registries, (), run.image, without_token)


def test_a_run_elsewhere_pushes_to_the_embedded_registry(tmp_path: Path) -> None:
    run = config(tmp_path).in_environment({})
    assert [(t.kind, t.name) for t in run.registries] == [("local", "local")]
    assert image_names(run.image, run.registries, {}) == ["shop"]


def test_listed_registries_are_used_as_listed_also_in_actions(tmp_path: Path) -> None:
    team = "{kind: generic, name: team, repository: registry.example.com/team/shop}"
    listed = config(tmp_path, f"registries:\n  - {team}\n")
    run = listed.in_environment(ACTIONS)
    assert run is listed
    [target] = select_targets(run.registries, (), run.image, ACTIONS)
    assert (target.name, target.repository) == ("team", "registry.example.com/team/shop")


def test_a_deploy_registry_must_name_a_default_target_of_the_run(tmp_path: Path) -> None:
    loaded = config(tmp_path, "deploy:\n  prod: {registry: ghcr}\n")  # loads: not known yet
    assert loaded.in_environment(ACTIONS).deployment("prod").environment.registry == "ghcr"
    with pytest.raises(ConfigError) as caught:
        loaded.in_environment({})
    assert str(caught.value).startswith(
        "pipeline.yaml: deploy.prod.registry: no push target named 'ghcr': "
        "with no registries: listed, this run pushes to local"
    )
    assert caught.value.exit_code == 2
