"""The engine: takes intents from the log, runs commands, records results through one writer."""
