"""The network clients a command uses, opened and closed together around one HTTP session."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from tracker.clients.files import safe_file_name, save_image
from tracker.clients.http import HttpClient
from tracker.clients.pacing import RetryPolicy
from tracker.clients.tmdb import TmdbClient, image_url
from tracker.clients.yts import YtsClient
from tracker.config import Settings


class Clients:
    """TMDB, YTS and the image downloader over one shared aiohttp session."""

    def __init__(self, settings: Settings, *, retry: RetryPolicy | None = None) -> None:
        """Prepare the clients; the session opens on ``async with``."""
        self.settings = settings
        retry = retry or RetryPolicy(max_attempts=settings.retry_attempts,
                                     base_delay_s=settings.retry_base_delay_s)
        self.http = HttpClient(settings, retry=retry, timeout_s=settings.timeout_s)
        self.tmdb = TmdbClient(self.http, settings)
        self.yts = YtsClient(self.http, settings)

    async def __aenter__(self) -> Clients:
        await self.http.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.http.__aexit__(exc_type, exc, tb)

    async def save_image(self, api_path: str, dest_dir: Path, *, size: str, dry_run: bool) -> str:
        """Save an API image under ``dest_dir``; its path relative to the home.

        The API's path is refused unless it is a plain file name; a file already on disk is not
        fetched again; a dry run writes nothing and only says where the file would go.
        """
        name = safe_file_name(api_path)
        if not dry_run:
            await save_image(self.http, image_url(self.settings, size, api_path), dest_dir, name)
        return (dest_dir / name).relative_to(self.settings.home).as_posix()
