"""The daemon's read-only web page, JSON API, health check and Prometheus metrics."""
