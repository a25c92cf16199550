"""The log's hash chain in C (events/_chain.c) gives what its Python spelling gives, rows and errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import chain
from events.chain import GENESIS_HASH, chain_hash, chained_rows_py

try:
    from events._chain import chained_rows as c_chained_rows
except ImportError:  # every test here then fails, saying why (none passes on a TypeError of None)
    def c_chained_rows(*_args: object) -> tuple[list, str]:
        """Stands for the C chain that is missing: fails the test that calls it."""
        raise AssertionError("events._chain was not built: install gcc and libssl-dev, then pip install -e .")

_TEXT = st.text(max_size=40)  # any code point but lone surrogates (those are refused, see below)
_ITEMS = st.lists(st.tuples(st.text(min_size=1, max_size=20), st.one_of(_TEXT, _TEXT.map(str.encode)),
                            st.one_of(st.none(), _TEXT)), max_size=30)


def test_the_c_chain_is_built_here() -> None:
    """The C chain was built where the suite runs (CI needs a C compiler and libssl-dev), so the
    tests below and the benchmarks exercise it rather than the Python fallback."""
    assert chain.CHAIN_IN_C, "events._chain was not built: install gcc and libssl-dev, then pip install -e ."
    assert chain.chained_rows is c_chained_rows


@settings(max_examples=300, deadline=None)
@given(items=_ITEMS, seq=st.integers(0, 2**62), prev=st.one_of(st.just(GENESIS_HASH), _TEXT),
       at=_TEXT, command_id=st.one_of(st.none(), _TEXT), v=st.integers(-2**31, 2**31))
def test_c_and_python_chains_give_the_same_rows_and_last_hash(items, seq, prev, at, command_id, v) -> None:
    """Any run of rows (non-ASCII text, bytes or text data, subjects or none, any head) gives the
    same INSERT values and last hash in C as in Python."""
    assert c_chained_rows(items, seq, prev, at, command_id, v) == chained_rows_py(items, seq, prev, at, command_id, v)


def test_each_c_row_hash_is_the_documented_chain_hash() -> None:
    """Each hash the C chain gives is ``chain_hash`` of its row and the one before (what verify checks)."""
    items = [("DvdAdded", b'{"title":"Am\xc3\xa9lie"}', "dvd:1"), ("CommandStarted", '{"n":2}', None)]
    values, last = c_chained_rows(items, 41, GENESIS_HASH, "2026-11-28T00:00:00Z", "c1", 3)
    prev = GENESIS_HASH
    for seq, type_, subject, data, stored in zip(*[iter(values)] * 5, strict=True):
        prev = chain_hash(prev, seq, type_, "2026-11-28T00:00:00Z", "c1", subject, 3, data)
        assert stored == prev
    assert [values[0], values[3], values[5]] == [42, '{"title":"Amélie"}', 43]
    assert last == prev
    assert c_chained_rows([], 7, "abc", "t", None, 1) == ([], "abc")


def test_c_chain_formats_odd_values_as_python_does() -> None:
    """Values no caller should pass but the store hands on to SQLite to refuse (a type of None, a
    subject or command id that is empty or not text) hash the same in C as in Python."""
    items = [(None, b"{}", "dvd:1"), ("DvdAdded", "{}", ""), ("DvdAdded", b"{}", 0), (7, "{}", 12)]
    for command_id in ("", None, 0, 5):
        assert (c_chained_rows(items, 3, GENESIS_HASH, "t", command_id, 2)
                == chained_rows_py(items, 3, GENESIS_HASH, "t", command_id, 2))


@pytest.mark.parametrize(("item", "error"), [
    (("DvdAdded", b'{"t":"\xff"}', None), UnicodeDecodeError),  # data that is not UTF-8
    (("DvdAdded", b"{}", "dvd:\ud800"), UnicodeEncodeError),  # a lone surrogate in the subject
    (("DvdAdded", '{"t":"\ud800"}', None), UnicodeEncodeError),  # ... or in text data
    (("DvdAdded", 12, None), TypeError),  # data neither bytes nor text
])
def test_c_chain_refuses_what_python_refuses(item, error) -> None:
    """A value the Python chain refuses, the C chain refuses with the same kind of error (the
    writer fails that item alone on either)."""
    items = [("DvdAdded", b"{}", "dvd:1"), item]
    with pytest.raises(error):
        chained_rows_py(items, 0, GENESIS_HASH, "t", None, 1)
    with pytest.raises(error):
        c_chained_rows(items, 0, GENESIS_HASH, "t", None, 1)
