"""/metrics: the engine's own counters in Prometheus text format, through prometheus-client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from projections.commands import ITEM_OUTCOMES
from projections.commands import TERMINAL as COMMAND_ENDS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class EngineCollector(Collector):
    """Reads the engine's counters at scrape time: the engine keeps plain integers as it works,
    so its hot path pays nothing for metrics and needs no Prometheus import."""

    def __init__(self, engine: Any) -> None:
        """``engine`` gives ``stats``, ``http_stats`` and ``state``; queue figures are set per scrape."""
        self.engine = engine
        self.queue: dict[str, Any] = {"queue_depth": 0, "running": 0}

    def collect(self) -> Iterator[Metric]:
        """One family per series; fixed label values always present, so rates start at zero."""
        stats = self.engine.stats
        events = CounterMetricFamily("tracker_events", "Events this daemon appended to the log.")
        events.add_metric([], stats.events)
        commands = CounterMetricFamily("tracker_commands", "Commands this daemon ended, by status.",
                                       labels=["status"])
        for status in sorted({*COMMAND_ENDS, *stats.commands}):
            commands.add_metric([status], stats.commands[status])
        items = CounterMetricFamily("tracker_items", "Items this daemon processed, by outcome.",
                                    labels=["outcome"])
        for outcome in sorted({*ITEM_OUTCOMES, *stats.items}):
            items.add_metric([outcome], stats.items[outcome])
        http = CounterMetricFamily("tracker_http_requests", "HTTP attempts to the APIs, by host "
                                   "kind and status (error: no answer).", labels=["kind", "status"])
        http_stats = self.engine.http_stats
        for (kind, status), count in sorted(http_stats.by_kind_status.items() if http_stats else ()):
            http.add_metric([kind, status], count)
        yield from (events, commands, items, http)
        yield GaugeMetricFamily("tracker_queue_depth", "Commands queued, not yet started.",
                                value=self.queue["queue_depth"])
        yield GaugeMetricFamily("tracker_commands_running", "Commands running now.",
                                value=self.queue["running"])
        yield GaugeMetricFamily("tracker_engine_up", "1 while the engine takes commands.",
                                value=1 if self.engine.state == "running" else 0)


def metrics_registry(engine: Any) -> tuple[CollectorRegistry, EngineCollector]:
    """A registry of its own (not the process-wide default) holding the engine's collector."""
    registry = CollectorRegistry(auto_describe=False)
    collector = EngineCollector(engine)
    registry.register(collector)
    return registry, collector


def render(registry: CollectorRegistry) -> bytes:
    """The exposition text."""
    return generate_latest(registry)
