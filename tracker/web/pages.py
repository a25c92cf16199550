"""What every page handler shares: the web state kept on the application, and the templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from tracker.config import Settings
from tracker.web import filters
from tracker.web.metrics import EngineCollector
from tracker.web.reader import Reader

HERE = Path(__file__).parent


@dataclass
class WebState:
    """What every handler reads: settings, the engine, the reader, the templates, the metrics."""

    settings: Settings
    engine: Any
    reader: Reader
    templates: jinja2.Environment
    registry: Any
    collector: EngineCollector


STATE = web.AppKey("state", WebState)


def templates() -> jinja2.Environment:
    """Jinja2 with autoescaping on for every template: a title such as <script> shows as text."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(filters.FILTERS)
    return env


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    """A page from its template."""
    html = request.app[STATE].templates.get_template(name).render(**context)
    return web.Response(text=html, status=status, content_type="text/html")
