"""Smoke results as JUnit XML, the one test report format every CI system shows natively.

One ``<testsuite>`` per check kind (structure, service, policy), one ``<testcase>`` per check;
a failure carries its one-line message as the attribute and the expected/got diff as text, a
skipped check is ``<skipped>``, and a warning passes with the warning in ``<system-out>``
(JUnit has no warning state). The container's last log lines go to the suite's
``<system-err>`` so a CI test tab shows why the service failed without opening the job log.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from pipeline.smoke.verdicts import CheckResult, Verdict

KINDS = ("policy", "structure", "service")


def junit_xml(results: list[CheckResult], logs: str = "", name: str = "hoist smoke") -> str:
    root = ET.Element("testsuites", name=name)
    _counts(root, results)
    kinds = [k for k in KINDS if any(r.kind == k for r in results)]
    kinds += sorted({r.kind for r in results} - set(KINDS))
    for kind in kinds:
        cases = [r for r in results if r.kind == kind]
        suite = ET.SubElement(root, "testsuite", name=f"smoke.{kind}")
        _counts(suite, cases)
        for result in cases:
            _case(suite, kind, result)
        if logs and kind == "service" and any(r.failed for r in cases):
            ET.SubElement(suite, "system-err").text = logs
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _counts(element: ET.Element, results: list[CheckResult]) -> None:
    element.set("tests", str(len(results)))
    element.set("failures", str(sum(r.verdict is Verdict.FAILED for r in results)))
    element.set("errors", "0")
    element.set("skipped", str(sum(r.verdict is Verdict.SKIPPED for r in results)))
    element.set("time", f"{sum(r.seconds for r in results):.3f}")


def _case(suite: ET.Element, kind: str, result: CheckResult) -> None:
    case = ET.SubElement(
        suite, "testcase", classname=f"smoke.{kind}", name=result.name, time=f"{result.seconds:.3f}"
    )
    message = _printable(result.message)
    if result.verdict is Verdict.FAILED:
        failure = ET.SubElement(case, "failure", message=message, type="CheckFailed")
        failure.text = _printable(result.diff()) or message
    elif result.verdict is Verdict.SKIPPED:
        ET.SubElement(case, "skipped", message=message)
    elif result.verdict is Verdict.WARNING:
        ET.SubElement(case, "system-out").text = f"WARNING: {message}"
    elif message:
        ET.SubElement(case, "system-out").text = message


def write_junit(path: Path, results: list[CheckResult], logs: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(results, _printable(logs)), encoding="utf-8")
    return path


def _printable(text: str) -> str:
    """XML 1.0 cannot carry most control characters; container logs sometimes have them."""
    return "".join(ch if ch in "\t\n\r" or ord(ch) >= 0x20 else "?" for ch in text)
