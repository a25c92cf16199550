"""The command line: parsing, handlers, printing for people, following a daemon, the demo."""
