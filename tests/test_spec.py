"""Specs and layer sizes: every field is checked before anything is allocated, and each bad spec
gets one line (issue 8, points 6 and 7)."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from digitnet.errors import DigitnetError
from digitnet.network.model import Model
from digitnet.network.spec import MAX_PARAMETERS, build_layers, parse_sizes, parse_spec


def dense(**options) -> dict:
    return {"layers": [{"type": "flatten"}, {"type": "dense", **options}]}


def one_line_error(spec, match: str) -> str:
    with pytest.raises(DigitnetError, match=match) as error:
        Model(spec)
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.mark.parametrize(
    "spec, match",
    [
        (dense(units=-5), "units must be a whole number of at least 1, got -5"),
        (dense(units="10"), "units must be a whole number"),
        (dense(units=True), "units must be a whole number"),
        (dense(units=float("nan")), "units must be a whole number"),
        ({"layers": [1]}, "layer 0 must be a dict"),
        ({"layers": []}, "non-empty 'layers' list"),
        ({"layers": "flatten"}, "non-empty 'layers' list"),
        ({"layers": [{"type": "softmax"}]}, "unknown type 'softmax'"),
        ([{"type": "flatten"}], "a spec must be a dict"),
        ('[{"type": "flatten"}]', "a spec must be a dict"),
        (dense(units=10, init="zeros"), "init must be 'he' or 'glorot'"),
        (dense(units=10, colour="red"), "unexpected keyword argument 'colour'"),
        ({"layers": [{"type": "dropout", "rate": 1.0}]}, r"rate must be a number in \[0, 1\)"),
        ({"layers": [{"type": "conv2d", "filters": 8, "kernel": 0}]}, "kernel must be"),
        ({"layers": [{"type": "conv2d", "filters": 8, "padding": 10**9}]}, "padding must be"),
        ({"layers": [{"type": "conv2d"}]}, "needs 'filters'"),
        ({"layers": [{"type": "flatten"}, {"type": "conv2d", "filters": 4}]}, "conv2d needs"),
    ],
)
def test_crafted_spec_fields_get_one_line(spec, match):
    one_line_error(spec, match)


def test_huge_units_are_refused_by_the_parameter_budget_before_allocating():
    tracemalloc.start()
    try:
        message = one_line_error(dense(units=1e8), "the network would have")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message == "the network would have 78,500,000,000 parameters; the limit is 50,000,000"
    assert peak < 1_000_000


def test_mlp_with_99999999_units_gets_the_parameter_message():
    with pytest.raises(DigitnetError, match=f"the limit is {MAX_PARAMETERS:,}$"):
        parse_spec("mlp:99999999")


def test_a_layer_too_wide_for_memory_is_refused():
    # Few parameters, but 28 x 28 x 4096 values per image.
    spec = {"layers": [{"type": "conv2d", "filters": 4096, "kernel": 1}]}
    one_line_error(spec, "values per image; the limit is")


def test_json_spec_nested_25000_deep_is_one_line():
    with pytest.raises(DigitnetError, match="nests deeper than"):
        parse_spec("[" * 25_000 + "]" * 25_000)
    with pytest.raises(DigitnetError, match="nests deeper than"):
        parse_spec('{"layers": ' + "[" * 25_000 + "]" * 25_000 + "}")


def test_whole_numbers_written_as_floats_are_accepted():
    spec = parse_spec(json.dumps(dense(units=10.0)))
    assert spec["layers"][1]["units"] == 10 and isinstance(spec["layers"][1]["units"], int)
    assert len(build_layers(spec)) == 2


def test_shipped_presets_pass_the_checks():
    for name in ("mlp", "cnn", "mlp:64,32"):
        assert Model(name).layers


@pytest.mark.parametrize(
    "text, expected", [("512,256", (512, 256)), (" 128 ", (128,)), ("64, 32,", (64, 32))]
)
def test_parse_sizes_reads_comma_separated_sizes(text, expected):
    assert parse_sizes(text, "hidden layer sizes") == expected


@pytest.mark.parametrize("text", ["", ",", "abc", "12,x", "-5", "0", "1.5", "2e3"])
def test_parse_sizes_refuses_bad_text_in_one_line_naming_the_field(text):
    with pytest.raises(DigitnetError, match="^bad hidden layer sizes ") as error:
        parse_sizes(text, "hidden layer sizes")
    assert "\n" not in str(error.value)


def test_bad_sizes_in_a_preset_say_so():
    with pytest.raises(DigitnetError, match="^bad layer sizes '256,x'"):
        parse_spec("mlp:256,x")
