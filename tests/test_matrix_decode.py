"""The live source's range-query decoder: the same frames as plain JSON, faster, and never wrong."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mtop.promframes import matrix_frame
from mtop.sources import matrix
from mtop.sources.matrix import decode_matrix

LABELS = ["namespace", "pod", "gpu"]


def body(result: list[dict[str, Any]], result_type: str = "matrix") -> bytes:
    return json.dumps({"status": "success", "data": {"resultType": result_type, "result": result}}).encode()


def series(pod: str, values: list[list[Any]], **labels: str) -> dict[str, Any]:
    return {"metric": {"__name__": "DCGM_FI_DEV_GPU_UTIL", "namespace": "ns", "pod": pod, **labels}, "values": values}


ODD = [
    series("a", [[1732795200, "1"], [1732795215.5, "NaN"], [1732795230.125, "+Inf"], [1732795245, "-Inf"]], gpu="0"),
    series("b", []),
    {"metric": {"pod": "c"}},  # no values at all
    series("d", [[1732795200, "1e-3"], [1732795215, "-42.5"], [1732795230, "12345678901234567890"]], gpu="7"),
]


def test_samples_become_arrays_and_frames_equal_the_plain_decode() -> None:
    raw = body(ODD)
    fast = decode_matrix(raw)
    assert all(isinstance(s["values"], np.ndarray) for s in fast["data"]["result"])
    assert [s["values"].shape for s in fast["data"]["result"]] == [(4, 2), (0, 2), (0, 2), (3, 2)]
    pd.testing.assert_frame_equal(matrix_frame(fast["data"], LABELS), matrix_frame(json.loads(raw)["data"], LABELS))


def test_many_series_keep_their_order_and_labels() -> None:
    rng = np.random.default_rng(3)
    result = [series(f"p{i}", [[1732795200 + 15 * k, f"{v:.3f}"] for k, v in enumerate(rng.random(i % 7) * 100)],
                     gpu=str(i % 8)) for i in range(300)]  # fmt: skip
    raw = body(result)
    pd.testing.assert_frame_equal(
        matrix_frame(decode_matrix(raw)["data"], LABELS), matrix_frame(json.loads(raw)["data"], LABELS)
    )


@pytest.mark.parametrize(
    "raw",
    [
        body([series("a", [[1, "2"], [2, None]])]),  # a sample numpy cannot read: the plain path reads it
        body([{"metric": {"pod": "a"}, "value": [1, "2"]}], "vector"),
        b'{"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}',
        b'{"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {"pod": 1}, "values": []}]}}',
    ],
)
def test_anything_unexpected_is_decoded_as_plain_json(raw: bytes) -> None:
    assert decode_matrix(raw) == json.loads(raw)


def test_a_null_sample_is_nan_in_the_frame() -> None:
    frame = matrix_frame(decode_matrix(body([series("a", [[1, "2"], [2, None]])]))["data"], LABELS)
    assert frame["value"].tolist()[0] == 2.0 and np.isnan(frame["value"].tolist()[1])


def test_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        decode_matrix(b"<html>502 Bad Gateway</html>")


def test_without_msgspec_the_plain_decode_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = body(ODD[:1])
    matrix._fast_decoder.cache_clear()
    monkeypatch.setitem(sys.modules, "msgspec", None)
    try:
        assert decode_matrix(raw) == json.loads(raw)
    finally:
        monkeypatch.undo()
        matrix._fast_decoder.cache_clear()
    assert isinstance(decode_matrix(raw)["data"]["result"][0]["values"], np.ndarray)


def test_every_float_is_read_exactly_as_float_reads_it() -> None:
    rng = np.random.default_rng(11)
    values = [repr(float(x)) for x in rng.random(5000) * 10.0 ** rng.integers(-30, 30, 5000)]
    values += ["5e-324", "1.7976931348623157e+308", "0.1", "-0", "2.5", "1e+05", "123456789012345678"]
    raw = body([series("a", [[1732795200.123 + 15 * k, v] for k, v in enumerate(values)])])
    got = decode_matrix(raw)["data"]["result"][0]["values"]
    assert isinstance(got, np.ndarray)
    assert np.array_equal(got[:, 1], np.array([float(v) for v in values]))
    assert np.array_equal(got[:, 0], np.array([1732795200.123 + 15 * k for k in range(len(values))]))


def test_pretty_printed_json_is_read_by_the_fast_path_too() -> None:
    raw = json.dumps(json.loads(body(ODD)), indent=2).encode()
    fast = decode_matrix(raw)["data"]["result"]
    assert isinstance(fast[0]["values"], np.ndarray)
    assert np.array_equal(fast[3]["values"][:, 1], [1e-3, -42.5, 12345678901234567890.0])


def test_an_empty_sample_falls_back_instead_of_shifting_the_others() -> None:
    raw = body([series("a", [[1, "2"], [2, ""], [3, "4"]])])
    assert decode_matrix(raw) == json.loads(raw)


def test_decoding_leaves_the_process_wide_warning_filters_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Range queries decode in worker threads: a filter set while parsing would hold for every thread,
    # turning some other thread's DeprecationWarning into an exception.
    import warnings

    seen: list[list[Any]] = []
    read_csv = pd.read_csv

    def spying_read_csv(*args: Any, **kwargs: Any) -> pd.DataFrame:
        seen.append(list(warnings.filters))
        return read_csv(*args, **kwargs)

    before = list(warnings.filters)
    monkeypatch.setattr(pd, "read_csv", spying_read_csv)
    decode_matrix(body(ODD))
    assert seen == [before]
