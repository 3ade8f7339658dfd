"""The result document as a JUnit test suite, for CI test reporters."""
from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from lab.escaping import xml_text


def junit_xml(document: dict[str, Any]) -> str:
    """The run as a JUnit test suite; every text through lab.escaping.xml_text, so that a control
    character a student's program printed never makes the file unreadable."""
    x = xml_text.text
    failures = sum(not c["passed"] for c in document["checks"])
    suite = ElementTree.Element("testsuite", name=x(f"socklab.{document['scenario']}"),
                                tests=str(len(document["checks"])), failures=str(failures),
                                time=f"{document['duration_s']:.3f}")
    for check in document["checks"]:
        case = ElementTree.SubElement(suite, "testcase", classname=x(f"socklab.{document['scenario']}"),
                                      name=x(check["name"]))
        if not check["passed"]:
            text = check["detail"] + (f"\nhint: {check['hint']}" if check.get("hint") else "")
            ElementTree.SubElement(case, "failure", message=x(check["detail"][:200])).text = x(text)
        else:
            ElementTree.SubElement(case, "system-out").text = x(check["detail"])
    for check in document.get("not_applicable", []):
        case = ElementTree.SubElement(suite, "testcase", classname=x(f"socklab.{document['scenario']}"),
                                      name=x(check["name"]))
        ElementTree.SubElement(case, "skipped", message=x(f"not applicable: {check['reason']}"[:200]))
    suite.set("skipped", str(len(document.get("not_applicable", []))))
    return ElementTree.tostring(suite, encoding="unicode")

