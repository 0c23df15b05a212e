"""Result tables: GenPulse next to the baseline with the ratio, printed, saved as JSON and put in the docs.

A scenario returns ``Result``: rows of (metric, baseline, genpulse, target). The ratio is always
GenPulse / baseline. ``publish`` writes ``benchmarks/results/<scenario>.json`` and replaces the scenario's block
(between ``<!-- bench:NAME -->`` markers) in ``docs/benchmarks.md``; text outside the blocks is left alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.env import REPO, RESULTS_DIR

Value = float | int | str | None


@dataclass
class Row:
    metric: str
    baseline: Value
    genpulse: Value
    target: str = ""

    @property
    def ratio(self) -> float | None:
        b, g = self.baseline, self.genpulse
        if isinstance(b, int | float) and isinstance(g, int | float) and not isinstance(b, bool) and b:
            return g / b
        return None


@dataclass
class Result:
    scenario: str
    command: str
    params: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    labels: tuple[str, str] = ("baseline", "GenPulse")

    def add(self, metric: str, baseline: Value, genpulse: Value, target: str = "") -> None:
        self.rows.append(Row(metric, baseline, genpulse, target))

    def table(self) -> str:
        head = f"| metric | {self.labels[0]} | {self.labels[1]} | ratio {self.labels[1]}/{self.labels[0]} | target |"
        lines = [head, "| --- | ---: | ---: | ---: | --- |"]
        for r in self.rows:
            ratio = "" if r.ratio is None else f"{r.ratio:.2f}x"
            lines.append(f"| {r.metric} | {_fmt(r.baseline)} | {_fmt(r.genpulse)} | {ratio} | {r.target} |")
        return "\n".join(lines)

    def markdown(self) -> str:
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        parts = [f"Run {when} on {machine()}; `{self.command}` ({params}).", "", self.table()]
        if self.notes:
            parts += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(parts)


def _fmt(v: Value) -> str:
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "n/a" if v is None else str(v)


def machine() -> str:
    return f"{os.cpu_count()} cores (shared with other work), Python {platform.python_version()}"


def publish(result: Result, *, tag: str = "", docs: bool = True) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"{result.scenario}{'-' + tag if tag else ''}.json"
    payload = {
        "scenario": result.scenario,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": result.command,
        "params": result.params,
        "rows": [
            {"metric": r.metric, "baseline": r.baseline, "genpulse": r.genpulse, "ratio": r.ratio, "target": r.target}
            for r in result.rows
        ],
        "notes": result.notes,
        "raw": result.raw,
    }
    out.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    if docs and not tag:
        update_docs(result.scenario, result.markdown())
    return out


def update_docs(scenario: str, block: str, path: Path = REPO / "docs" / "benchmarks.md") -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = f"<!-- bench:{scenario} -->", f"<!-- /bench:{scenario} -->"
    new = f"{start}\n{block}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: new, text) if pattern.search(text) else f"{text.rstrip()}\n\n{new}\n"
    path.write_text(text)
