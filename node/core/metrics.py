"""Counters and histograms of one process, and their Prometheus text rendering.

Each process of a node (``asasap serve``, ``asasap worker``) counts what it does in :data:`METRICS`;
its heartbeat (:mod:`node.core.processes`) stores a snapshot in the database every few seconds, and
``/metrics`` adds up the snapshots of every process, so that one scrape of any web process shows the
whole node however many processes it runs. What is a state rather than a count (queue depths and ages,
live workers) is read from the database at scrape time.

The one process-wide registry is an empty object when the module is imported; it is filled only by the
work the process does. No label ever carries personal data: routes are templates (``/users/{name}``),
never the path asked for.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any

Labels = tuple[tuple[str, str], ...]
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "asasap_http_requests_total": (
        "counter",
        "HTTP requests answered, by route template, method and status.",
    ),
    "asasap_http_request_duration_seconds": ("histogram", "Time to answer an HTTP request, by route."),
    "asasap_inbox_total": ("counter", "Activities posted to the inbox: accepted, or refused by reason."),
    "asasap_deliveries_total": ("counter", "Delivery attempts by outcome."),
    "asasap_job_duration_seconds": ("histogram", "Duration of one pass of a worker job, by job."),
    "asasap_job_items_total": ("counter", "Items handled by worker jobs, by job."),
    "asasap_limit_refusals_total": ("counter", "Actions refused by an abuse limit, by limit."),
    "asasap_queue_depth": ("gauge", "Rows waiting or claimed in a durable queue, by queue and state."),
    "asasap_queue_oldest_age_seconds": ("gauge", "Age of the oldest row waiting in a queue."),
    "asasap_processes": ("gauge", "Node processes heard from recently, by role (web, worker)."),
}


def _labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted((key, str(value)) for key, value in labels.items()))


class Registry:
    """Counters and histograms of one process (thread-safe; cheap enough for every request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, dict[Labels, float]] = {}
        self.histograms: dict[str, dict[Labels, list[float]]] = {}  # bucket counts..., sum, count

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            series = self.counters.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            series = self.histograms.setdefault(name, {})
            cells = series.setdefault(key, [0.0] * (len(BUCKETS) + 2))
            for index, bound in enumerate(BUCKETS):
                if value <= bound:
                    cells[index] += 1
            cells[-2] += value
            cells[-1] += 1

    def snapshot(self) -> dict[str, Any]:
        """The values as JSON-ready data (what a heartbeat stores)."""
        with self._lock:
            return {
                "counters": {
                    n: [[list(map(list, k)), v] for k, v in s.items()] for n, s in self.counters.items()
                },
                "histograms": {
                    n: [[list(map(list, k)), list(v)] for k, v in s.items()]
                    for n, s in self.histograms.items()
                },
            }


def merge(snapshots: Iterable[Mapping[str, Any]]) -> Registry:
    """One registry holding the sums of several processes' snapshots."""
    total = Registry()
    for snapshot in snapshots:
        for name, series in snapshot.get("counters", {}).items():
            for labels, value in series:
                total.inc(name, float(value), **dict(labels))
        for name, series in snapshot.get("histograms", {}).items():
            for labels, cells in series:
                target = total.histograms.setdefault(name, {}).setdefault(
                    _labels(dict(labels)), [0.0] * (len(BUCKETS) + 2)
                )
                for index, value in enumerate(cells[: len(target)]):
                    target[index] += float(value)
    return total


def _format_labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    escaped = (f'{key}="{_escape(value)}"' for key, value in pairs)
    return "{" + ",".join(escaped) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", " ").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    return repr(float(value)) if value != int(value) else str(int(value))


def render(registry: Registry, gauges: Mapping[str, Mapping[Labels, float]]) -> str:
    """The Prometheus text exposition format (version 0.0.4) of ``registry`` and ``gauges``."""
    lines: list[str] = []

    def header(name: str) -> None:
        kind, text = DESCRIPTIONS.get(name, ("untyped", name))
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")

    for name in sorted(registry.counters):
        header(name)
        for labels, value in sorted(registry.counters[name].items()):
            lines.append(f"{name}{_format_labels(labels)} {_number(value)}")
    for name in sorted(registry.histograms):
        header(name)
        for labels, cells in sorted(registry.histograms[name].items()):
            for index, bound in enumerate(BUCKETS):
                bucket = _format_labels(labels, (("le", _number(bound)),))
                lines.append(f"{name}_bucket{bucket} {_number(cells[index])}")
            lines.append(f"{name}_bucket{_format_labels(labels, (('le', '+Inf'),))} {_number(cells[-1])}")
            lines.append(f"{name}_sum{_format_labels(labels)} {_number(cells[-2])}")
            lines.append(f"{name}_count{_format_labels(labels)} {_number(cells[-1])}")
    for name in sorted(gauges):
        header(name)
        for labels, value in sorted(gauges[name].items()):
            lines.append(f"{name}{_format_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n"


METRICS = Registry()
"""The counters of this process."""
