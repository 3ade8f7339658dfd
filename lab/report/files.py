"""The report directory and the files written into it: NAME.json (the contract), NAME.junit.xml,
NAME.md, the plots, artefacts such as the chart's SVG, and NAME.html last (it embeds them).
The only module of the report layer that writes files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lab.errors import BadInput, ReportError
from lab.report.document import json_text
from lab.run.record import RunRecord


def writable_directory(report_dir: str) -> Path:
    """The report directory, made now and written to once: a bad path is bad input (exit 2),
    found before a run or a class is started rather than after its results exist."""
    path = Path(report_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".socklab-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise BadInput(f"--report-dir {report_dir}: cannot write there ({error.strerror or error})") from None
    return path



def write_plots(record: RunRecord, directory: Path) -> list[str]:
    """The scenario's plots as PNG files in `directory`; their names, for the result's artifacts."""
    from lab.report import plots

    try:
        return [path.name for path in plots.draw(record, directory)]
    except (OSError, ValueError) as error:
        raise ReportError(f"drawing the plots into {directory} failed: {error}") from None



def write_reports(document: dict[str, Any], directory: Path, files: dict[str, str] | None = None) -> list[Path]:
    """NAME.json (the contract), NAME.junit.xml and NAME.md in `directory`, plus `files`
    (artifacts by name, e.g. the sequence chart's SVG from lab.report.capture.artifact_files),
    and last NAME.html, which embeds the artefacts already there (chart, plots).
    """
    # Imported here, not at the top: a run without --report-dir writes no file (start-up is part of
    # every run's time, bench/udp_echo_vs_docker.py).
    from lab.report import html as html_report
    from lab.report.junit import junit_xml
    from lab.report.markdown import markdown

    name = document["scenario"]
    paths = [directory / f"{name}.json", directory / f"{name}.junit.xml", directory / f"{name}.md"]
    if html_report.file_name(document) not in document["artifacts"]:
        document["artifacts"].append(html_report.file_name(document))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        paths[0].write_text(json_text(document), encoding="utf-8")
        paths[1].write_text(junit_xml(document) + "\n", encoding="utf-8")
        paths[2].write_text(markdown(document), encoding="utf-8")
        for file_name, text in (files or {}).items():
            paths.append(directory / file_name)
            paths[-1].write_text(text)
        paths.append(html_report.write(document, directory))
    except (OSError, ValueError) as error:
        raise ReportError(f"writing the reports to {directory} failed: {error}") from None
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown(document))
    return paths

