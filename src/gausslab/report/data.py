"""The study folder read back for the report: runs grouped over seeds, per section, with their status."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gausslab.report.doc import Cell, Stat, metric_cell, stat
from gausslab.study.record import RunResult, StudyInfo, read_run, read_study_info


@dataclass
class Group:
    """One model/setting over seeds."""

    name: str
    label: str
    section: str
    tags: dict[str, Any]
    runs: list[RunResult]

    @property
    def finished(self) -> dict[str, dict[str, Any]]:
        """run name -> metrics of the runs that finished."""
        return {r.task.name: r.metrics for r in self.runs if r.status == "finished"}

    @property
    def failed(self) -> list[RunResult]:
        return [r for r in self.runs if r.status == "failed"]

    def stat(self, key: str) -> Stat:
        return stat(self.finished, key)

    def cell(self, key: str) -> Cell:
        return metric_cell(self.finished, key)

    def figure(self, kind: str) -> tuple[Path, int] | None:
        """The picture `kind` of the first seed that drew it, with that seed."""
        for run in self.runs:
            path = run.figure(kind)
            if path is not None and run.status == "finished":
                return path, run.task.seed
        return None

    def status_cell(self) -> Cell:
        """'3/3' finished, or e.g. '2/3 (1 failed)'."""
        done, failed = len(self.finished), len(self.failed)
        text = f"{done}/{len(self.runs)}" + (f" ({failed} failed)" if failed else "")
        return Cell(text)


@dataclass
class StudyView:
    root: Path
    info: StudyInfo
    groups: list[Group]

    def section(self, section: str, **tags: Any) -> list[Group]:
        """Groups of a section whose tags include `tags`, in plan order."""
        return [g for g in self.groups if g.section == section and all(g.tags.get(k) == v for k, v in tags.items())]

    def group(self, name: str) -> Group | None:
        return next((g for g in self.groups if g.name == name), None)

    @property
    def runs(self) -> list[RunResult]:
        return [r for g in self.groups for r in g.runs]


def load_view(root: Path) -> StudyView:
    root = Path(root)
    info = read_study_info(root)
    groups: dict[str, Group] = {}
    for task in info.tasks:
        g = groups.setdefault(task.group, Group(task.group, task.label, task.section, dict(task.tags), []))
        g.runs.append(read_run(root, task))
    return StudyView(root, info, list(groups.values()))
