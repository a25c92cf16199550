"""TMDB's fixed terms that commands and their help text need without loading the network stack."""

from __future__ import annotations

MEDIA_TYPES = ("movie", "tv")
OFFER_TYPES = ("flatrate", "rent", "buy", "ads", "free")
# TMDB refuses pages past 500 even when total_pages says more.
MAX_LIST_PAGE = 500
# Image widths tracker asks TMDB's image server for.
POSTER_SIZE = "w500"
LOGO_SIZE = "w185"
