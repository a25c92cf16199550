"""tracker: an event-sourced DVD collection and movie/TV catalogue tracker."""

__version__ = "0.1.0"
