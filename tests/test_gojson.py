"""analyzer.gomodel.gojson: a JSON document read as Go's encoding/json reads it."""

from __future__ import annotations

import pytest

from analyzer.gomodel.gojson import load_go_json


def test_invalid_utf8_and_unpaired_surrogates_become_the_replacement_character():
    got = load_go_json(b'{"k\xff":"\\ud800x\\ud83d\\ude00","l":["\\udfff"]}')
    assert got == {"k\ufffd": "\ufffdx\U0001F600", "l": ["\ufffd"]}


@pytest.mark.parametrize("text", ["NaN", '{"a":Infinity}', "[-Infinity]", "\ufeff{}"])
def test_what_go_refuses_is_refused(text):
    with pytest.raises(ValueError):
        load_go_json(text.encode())
