"""The study folder read back for the report: runs grouped over seeds, per section, with their status.

Tables and verdicts use the runs whose status is `ok` (`study.status`); the others are counted
and named beside the numbers, never averaged in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gausslab.report.doc import Cell, Stat, metric_cell, stat
from gausslab.study.record import RunResult, StudyInfo, read_runs, read_study_info


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
        """run name -> metrics of the runs whose status is ok (what tables and verdicts use)."""
        return {r.task.name: r.metrics for r in self.ok_runs}

    @property
    def ok_runs(self) -> list[RunResult]:
        """The runs whose status is ok, in plan order."""
        return [r for r in self.runs if r.ok]

    @property
    def left_out(self) -> list[RunResult]:
        """Runs that are not ok, pending ones included."""
        return [r for r in self.runs if not r.ok]

    @property
    def failed(self) -> list[RunResult]:
        """The runs that raised (state `failed`)."""
        return [r for r in self.runs if r.state == "failed"]

    def stat(self, key: str) -> Stat:
        """`key` over the ok runs: mean and sample std over seeds (`doc.stat`)."""
        return stat(self.finished, key)

    def cell(self, key: str) -> Cell:
        """The table cell of `key` over the ok runs: mean ± sd, naming the runs it summarises."""
        return metric_cell(self.finished, key)

    def by_seed(self, key: str) -> dict[int, RunResult]:
        """seed -> the ok run that recorded a number for `key`."""
        return {r.task.seed: r for r in self.ok_runs if stat({r.task.name: r.metrics}, key).n}

    def figure(self, kind: str) -> tuple[Path, int] | None:
        """The picture `kind` of the first ok seed that drew it (else any finished seed), with that seed."""
        for run in sorted(self.runs, key=lambda r: (not r.ok, r.task.seed)):
            path = run.figure(kind)
            if path is not None and run.state == "finished":
                return path, run.task.seed
        return None

    def status_cell(self) -> Cell:
        """'3/3 ok', or e.g. '1/3 ok; 2 posterior-collapse'."""
        text = f"{len(self.ok_runs)}/{len(self.runs)} ok"
        others = Counter(r.status.name for r in self.left_out)
        return Cell("; ".join([text, *(f"{n} {name}" for name, n in others.items())]))


@dataclass
class StudyView:
    """The study folder read back: its root, study.json, and the runs grouped over seeds in plan order."""

    root: Path
    info: StudyInfo
    groups: list[Group]

    def section(self, section: str, **tags: Any) -> list[Group]:
        """Groups of a section whose tags include `tags`, in plan order."""
        return [g for g in self.groups if g.section == section and all(g.tags.get(k) == v for k, v in tags.items())]

    def group(self, name: str) -> Group | None:
        """The group called `name`, or None."""
        return next((g for g in self.groups if g.name == name), None)

    @property
    def runs(self) -> list[RunResult]:
        """Every run of every group, in plan order."""
        return [r for g in self.groups for r in g.runs]


def load_view(root: Path) -> StudyView:
    """The study folder `root` read back: study.json and every run, grouped over seeds in plan order."""
    root = Path(root)
    info = read_study_info(root)
    groups: dict[str, Group] = {}
    for run in read_runs(root, info):
        task = run.task
        groups.setdefault(task.group, Group(task.group, task.label, task.section, dict(task.tags), [])).runs.append(run)
    return StudyView(root, info, list(groups.values()))
