"""The runner's gates, on the results the stages handed forward.

push runs only on the image that was built in this run, after lint and smoke passed for it —
in this run, or on a verdict kept for the very same inputs, which for smoke means the very
same image id; ``skip_smoke`` is the one explicit way around the smoke gate. A registry that
refused the credentials stops the run before smoke as a failed push stage, so no target
receives anything and a release never goes half out.
"""

from __future__ import annotations

from pipeline.errors import StageFailed
from pipeline.push.registries.credential_check import TargetVerdict, Verdict
from pipeline.result import Status
from pipeline.run.steps import Built, Linted, Smoked, SmokedPlatforms


def push_gate(
    linted: Linted | None,
    built: Built | None,
    smoked: Smoked | SmokedPlatforms | None,
    skip_smoke: bool,
) -> Built:
    """The image push may send, or ``StageFailed`` saying which gate it did not pass."""
    if linted is not None and linted.status is Status.SKIPPED:
        raise StageFailed(
            "push",
            "refused: the lint stage ran no linter, so nothing was checked",
            hint="enable one in pipeline.yaml's lint: section (hadolint: true)",
        )
    missing = [
        stage
        for stage, result in (("build", built), ("lint", linted), ("smoke", smoked))
        if result is None and not (stage == "smoke" and skip_smoke)
    ]
    if missing or built is None:
        raise StageFailed(
            "push", f"refused: {', '.join(sorted(missing))} must pass in the same run first"
        )
    if smoked is not None and smoked.image_id != built.image.image_id:
        raise StageFailed(
            "push",
            f"refused: smoke passed for image {smoked.image_id[7:19]}, "
            f"not for the one built, {built.image.image_id[7:19]}",
        )
    return built


def credential_lines(verdicts: list[TargetVerdict]) -> list[str]:
    """What the registries said, for the log (a refusal is the error instead)."""
    lines = []
    for verdict in verdicts:
        if verdict.verdict is Verdict.ACCEPTED:
            lines.append(f"[{verdict.target}] credentials accepted by the registry")
        elif verdict.verdict is Verdict.UNCHECKED:
            lines.append(
                f"[{verdict.target}] credentials not checked ({verdict.reason}); the push will try"
            )
    return lines


def refusal(verdicts: list[TargetVerdict]) -> StageFailed | None:
    """The push stage's failure when any registry refused, before any target was pushed."""
    refused = [v for v in verdicts if v.verdict is Verdict.REFUSED]
    if not refused:
        return None
    return StageFailed(
        "push",
        "refused before any target was pushed: " + "; ".join(v.reason for v in refused),
        hint="correct the credentials, or leave "
        f"{', '.join(v.target for v in refused)} out with --to",
    )
