"""BuildKit's plain progress into hoist's step lines, cache counts and the failing step.

The inputs are the docker 20.10 CLI's own output (``--progress=plain``) captured on this
machine, and buildx's form of the same (no digest lines, ``ERROR`` without the message).
"""

from __future__ import annotations

from pipeline.build.progress import PlainProgress

CACHED_THEN_FAILED = """\
#1 [internal] load build definition from Dockerfile
#1 sha256:5fb09c2b8a19b44a03e84c3c11163bb3711a2d93b12c847795934d516029262a
#1 transferring dockerfile: 252B 0.0s done
#1 DONE 0.0s

#4 [1/4] FROM docker.io/hoist-offline/node:bookworm
#4 DONE 0.0s

#5 [2/4] RUN echo step-one > /one
#5 sha256:3f98379784e248e17da1a2d8dc0c97223095a29e8dad420d5f93232b26820941
#5 CACHED

#6 [3/4] RUN --mount=type=secret,id=tok cat /run/secrets/tok | wc -c > /len
#6 CACHED

#7 [4/4] RUN echo "hello out"; ls /nope; exit 3
#7 0.603 hello out
#7 0.610 ls: cannot access '/nope': No such file or directory
#7 ERROR: executor failed running [/bin/sh -c echo "hello out"; ls /nope; exit 3]: exit code: 3
------
 > [4/4] RUN echo "hello out"; ls /nope; exit 3:
------
executor failed running [/bin/sh -c echo "hello out"; ls /nope; exit 3]: exit code: 3
"""

MULTI_STAGE_BUILDX = """\
#3 [builder 1/2] FROM docker.io/library/debian:bookworm
#3 DONE 0.1s
#4 [builder 2/2] RUN make
#5 [stage-1 2/2] COPY --from=builder /out /out
#4 0.2 compiling
#5 CACHED
#4 [builder 2/2] RUN make
#4 0.5 cc: error: no input files
#4 ERROR: process "/bin/sh -c make" did not complete successfully: exit code: 2
ERROR: failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2
"""


def read(text: str) -> tuple[PlainProgress, list[str]]:
    lines: list[str] = []
    progress = PlainProgress(lines.append)
    for line in text.splitlines(keepends=True):
        progress.feed(line)
    return progress, lines


def test_each_instruction_is_one_step_line_and_cache_hits_are_counted() -> None:
    progress, lines = read(CACHED_THEN_FAILED)

    assert lines == [
        "Step 1/4 : FROM docker.io/hoist-offline/node:bookworm",
        "Step 2/4 : RUN echo step-one > /one",
        "Step 3/4 : RUN --mount=type=secret,id=tok cat /run/secrets/tok | wc -c > /len",
        'Step 4/4 : RUN echo "hello out"; ls /nope; exit 3',
    ]
    assert (progress.steps, progress.cached) == (3, 2)  # FROM is not a step that is built


def test_the_failing_step_is_named_with_its_error_and_last_output() -> None:
    progress, _ = read(CACHED_THEN_FAILED)

    error = progress.failure(1)

    assert error.reason == (
        'executor failed running [/bin/sh -c echo "hello out"; ls /nope; exit 3]: exit code: 3;'
        " last output: ls: cannot access '/nope': No such file or directory"
    )
    assert error.hint == 'failed at Step 4/4 : RUN echo "hello out"; ls /nope; exit 3'
    assert error.details.splitlines()[1:] == [
        "hello out",
        "ls: cannot access '/nope': No such file or directory",
    ]


def test_multi_stage_steps_name_their_stage_and_a_repeated_header_is_one_step() -> None:
    progress, lines = read(MULTI_STAGE_BUILDX)

    assert lines == [
        "Step 1/2 (builder) : FROM docker.io/library/debian:bookworm",
        "Step 2/2 (builder) : RUN make",
        "Step 2/2 (stage-1) : COPY --from=builder /out /out",
    ]
    assert (progress.steps, progress.cached) == (2, 1)
    error = progress.failure(1)
    assert error.hint == "failed at Step 2/2 (builder) : RUN make"
    assert error.reason.endswith("exit code: 2; last output: cc: error: no input files")


def test_a_failure_outside_any_step_is_the_clis_last_line() -> None:
    progress, _ = read('#1 [internal] load metadata\nerror: failed to solve: no such image "x"\n')

    error = progress.failure(1)

    assert error.reason == 'error: failed to solve: no such image "x"'
    assert error.hint is None and error.details == ""


def test_a_cache_that_cannot_be_read_is_a_warning_line() -> None:
    _, lines = read(
        "#7 exporting to image\n#7 DONE 0.1s\n------\n"
        " > importing cache manifest from 127.0.0.1:9/none/app:buildcache:\n------\n"
    )

    assert lines == [
        "cache: 127.0.0.1:9/none/app:buildcache could not be read: building without it"
    ]
