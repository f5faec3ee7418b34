"""What a swarm deploy or rollback did, for the summary printed at the end and the deploy record
(``deploy-<id>.json``, no secrets)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.deploy.release import short


@dataclass
class SwarmDeployResult:
    """What one swarm deploy did and how long it took (seconds), for the summary and JSON."""

    deploy_id: str
    environment: str
    host: str
    service: str
    repository: str
    digest: str
    revision: str
    replicas: int
    order: str
    previous_digest: str | None = None
    pull_seconds: float = 0.0
    rollout_seconds: float = 0.0
    to_healthy_seconds: float = 0.0
    tasks: list[str] = field(default_factory=list)

    def render(self) -> str:
        return "\n".join(
            [
                f"deployed {self.environment} on {self.host}: service {self.service} "
                f"({self.replicas} replicas) runs {self.repository}@{self.digest}",
                f"  revision {self.revision or 'unknown'}; previous {short(self.previous_digest)}",
                f"  pull on the manager {self.pull_seconds:.1f} s; rollout ({self.order}) "
                f"{self.rollout_seconds:.1f} s",
                f"  time to all tasks healthy: {self.to_healthy_seconds:.1f} s",
                *(f"  {line}" for line in self.tasks),
            ]
        )

    def record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SwarmRollbackResult:
    environment: str
    host: str
    service: str
    digest: str
    replaced_digest: str
    seconds: float

    def summary(self) -> str:
        return (
            f"rolled service {self.service} back on {self.host}: {short(self.replaced_digest)} "
            f"-> {short(self.digest)} ({self.seconds:.1f} s)"
        )
