"""``invoke merge`` as a task runs it: the reports found, the merge, its report and summary.

Apart from ``merge`` so that module stays the checks and the put, and this the assembly
(output for this environment, the report written whatever happened)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.errors import StageFailed
from pipeline.output.github import output_for
from pipeline.paths import state_dir
from pipeline.platforms.merge import merge, report_files
from pipeline.project import PipelineConfig
from pipeline.report import RunReport, write_report


def run_merge(
    config: PipelineConfig,
    digests: Sequence[str],
    reports: Sequence[str],
    to: str,
    environ: Mapping[str, str],
) -> RunReport:
    """Merge, write the report (``.hoist/merges/``) and the summary; a refusal or a failed
    target is raised after both, as one line."""
    output = output_for(environ)
    files = report_files(reports, state_dir() / "reports")
    wanted = [t.strip() for t in to.split(",") if t.strip()]
    result = merge(config, digests, files, wanted, environ, output.say)
    output.summary(result, write_report(result, state_dir() / "merges"))
    if result.error:
        raise StageFailed("merge", result.error.removeprefix("merge: "))
    return result
