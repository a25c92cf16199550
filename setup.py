"""The one thing pyproject.toml cannot say: the optional C part (the log's hash chain, events/_chain.c)."""

from setuptools import Extension, setup

# Optional: without a C compiler or OpenSSL's headers the install goes on, and events/chain.py
# uses its Python spelling (the same rows, ~2.5x slower).
setup(ext_modules=[Extension("events._chain", ["events/_chain.c"], libraries=["crypto"], optional=True)])
