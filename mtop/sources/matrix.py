"""Decode a Prometheus range-query response with its samples as numpy arrays, not lists of strings.

A range query of 1,500 series at 120 steps is 180,000 ``[1732795200, "42"]`` pairs: decoding them into
Python lists, then reading them back into floats, costs more than the query. :func:`decode_matrix`
lets ``msgspec`` decode the labels and keep each series' ``values`` as raw bytes, then reads every
number of every series in one pass of numpy's C parser. Each series' ``values`` becomes a float64
array of shape ``(n, 2)`` (timestamp, sample), which :func:`mtop.promframes.matrix_frame` concatenates.
Anything unexpected (no ``msgspec``, an error response, a sample numpy cannot read) falls back to the
plain JSON decode, so the result is never wrong, only slower.

>>> out = decode_matrix(b'{"status": "success", "data": {"resultType": "matrix", "result": ['
...                     b'{"metric": {"pod": "a"}, "values": [[60, "1.5"], [75, "NaN"]]}]}}')
>>> out["data"]["result"][0]["values"].tolist()
[[60.0, 1.5], [75.0, nan]]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from mtop.interfaces import JSONDict
from mtop.sources.transport import json_loads

__all__ = ["decode_matrix"]

_SEPARATORS = bytes.maketrans(b'[]",', b"    ")


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
    """The ``expected`` numbers of the ``[[t, "v"], ...]`` lists in order; None if any is odd or missing."""
    blob = b" ".join(raws).translate(_SEPARATORS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns (and stops) at text it cannot read, e.g. null
            numbers = np.fromstring(blob, dtype=np.float64, sep=" ")
    except (DeprecationWarning, ValueError):
        return None
    return numbers if len(numbers) == expected else None
