"""Network clients: HTTP transport with rate limits and retries, media files, TMDB, YTS."""
