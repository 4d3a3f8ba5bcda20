"""Decode a Prometheus range-query response with its samples as numpy arrays, not lists of strings.

A range query of 1,500 series at 120 steps is 180,000 ``[1732795200, "42"]`` pairs: decoding them into
Python lists, then reading them back into floats, costs more than the query. :func:`decode_matrix`
lets ``msgspec`` decode the labels and keep each series' ``values`` as raw bytes, then reads every
number of every series in one pass of pandas' C CSV reader. Each series' ``values`` becomes a float64
array of shape ``(n, 2)`` (timestamp, sample), which :func:`mtop.promframes.matrix_frame` concatenates.
Anything unexpected (no ``msgspec``, an error response, a sample that is not a number) falls back to the
plain JSON decode, so the result is never wrong, only slower.

>>> out = decode_matrix(b'{"status": "success", "data": {"resultType": "matrix", "result": ['
...                     b'{"metric": {"pod": "a"}, "values": [[60, "1.5"], [75, "NaN"]]}]}}')
>>> out["data"]["result"][0]["values"].tolist()
[[60.0, 1.5], [75.0, nan]]
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from mtop.interfaces import JSONDict
from mtop.sources.transport import json_loads

__all__ = ["decode_matrix"]

_COMMA_TO_NEWLINE = bytes.maketrans(b",", b"\n")


def decode_matrix(data: bytes) -> JSONDict:
    """A ``query_range`` response body decoded, samples as ``(n, 2)`` float64 arrays when it is a matrix.

    Raises:
        ValueError: the body is not JSON (as :func:`~mtop.sources.transport.json_loads`).

    >>> decode_matrix(b'{"status": "error", "errorType": "bad_data", "error": "parse error"}')["error"]
    'parse error'
    """
    fast = _fast_decoder()
    if fast is not None:
        out = fast(data)
        if out is not None:
            return out
    result: JSONDict = json_loads(data)
    return result


@cache
def _fast_decoder() -> Callable[[bytes], JSONDict | None] | None:
    try:
        import msgspec
    except ImportError:  # the live extra is not installed: plain JSON
        return None

    # defstruct, not class statements: this module's annotations are strings msgspec could not resolve here.
    raw_values = ("values", msgspec.Raw, msgspec.Raw())  # the samples, kept as bytes for numpy
    series_type: Any = msgspec.defstruct("Series", [("metric", dict[str, str], {}), raw_values])
    matrix_type = msgspec.defstruct("Matrix", [("resultType", str), ("result", list[series_type])])
    decoder = msgspec.json.Decoder(msgspec.defstruct("Response", [("status", str), ("data", matrix_type)]))

    def decode(data: bytes) -> JSONDict | None:
        try:
            response: Any = decoder.decode(data)
        except msgspec.DecodeError:  # an error body, a vector, odd types: the plain path reads it
            return None
        if response.status != "success" or response.data.resultType != "matrix":
            return None
        series = response.data.result
        raws = [bytes(s.values) or b"[]" for s in series]  # a series without "values" has none
        counts = [raw.count(b"[") - 1 for raw in raws]  # one "[" opens the list, one each pair
        samples = _numbers(raws, 2 * sum(counts))
        if samples is None:
            return None
        parts = np.split(samples.reshape(-1, 2), np.cumsum(counts)[:-1]) if series else []
        result: list[dict[str, Any]] = [
            {"metric": s.metric, "values": part} for s, part in zip(series, parts, strict=True)
        ]
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}

    return decode


def _numbers(raws: list[bytes], expected: int) -> np.ndarray[Any, np.dtype[np.float64]] | None:
    """The ``expected`` numbers of the ``[[t, "v"], ...]`` lists in order; None if any is odd or missing.

    One number a line (commas become newlines; brackets, quotes and whitespace go) for pandas' C
    reader: it parses floats exactly (as ``float()`` does) and two to three times as fast as
    ``numpy.fromstring``. Only ``NaN`` counts as missing, so ``null`` fails and falls back; an empty
    value leaves a blank line, so the count falls short and falls back too.
    """
    if expected == 0:
        return np.empty(0, dtype=np.float64)
    import pandas as pd

    lines = b",".join(raws).translate(_COMMA_TO_NEWLINE, b' \t\r\n[]"')
    # No line can hold a second field (every comma became a newline), so pandas has nothing to warn about,
    # and no warnings filter is touched: catch_warnings is process-wide, and range queries decode in threads.
    try:
        frame = pd.read_csv(io.BytesIO(lines), header=None, names=["x"], index_col=False, dtype=np.float64,
                            engine="c", keep_default_na=False, na_values=["NaN"])  # fmt: skip
    except ValueError:  # pandas' ParserError is a ValueError too
        return None
    numbers: np.ndarray[Any, np.dtype[np.float64]] = frame["x"].to_numpy(dtype=np.float64)
    return numbers if len(numbers) == expected else None
