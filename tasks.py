"""The Invoke tasks of hoist's own checkout: every task of the installed ``hoist`` command
(``pipeline/tasks.py``), plus ``bench``, which measures this checkout against its
``bench/`` directory and so is not part of the package.

    invoke --list             every task (see pipeline/tasks.py)
    invoke bench              hoist against bench/baseline.sh, the docker CLI script it replaces
"""

from __future__ import annotations

from invoke import Collection, task

import pipeline.tasks


@task(
    help={
        "rounds": "rounds per scenario (default 3)",
        "registries": "registries to push to (default 5)",
        "scenarios": "comma-separated: cold, fanout, warm, repush, warm-nocache, incremental, "
        "warm-full, startup, ci-cold, backends",
        "quick": "tiny mode: 1 round, 1 registry",
    }
)
def bench(c, rounds=3, registries=5, scenarios="", quick=False):  # type: ignore[no-untyped-def]
    """Benchmark hoist against bench/baseline.sh (the docker CLI script it replaces)."""
    import dataclasses
    import shlex
    import sys

    from invoke.exceptions import Exit

    from bench.__main__ import parse
    from bench.core import BenchError, main

    argv = ["--quick"] if quick else [f"--rounds={rounds}", f"--registries={registries}"]
    argv += [f"--scenarios={scenarios}"] if scenarios else []
    try:
        options = parse(argv)
        main(dataclasses.replace(options, command=shlex.join(["invoke", "bench", *argv])))
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        raise Exit(code=1) from None


ns = Collection.from_module(pipeline.tasks)
ns.add_task(bench)
