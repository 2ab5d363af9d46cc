"""The JSON array splitter: same values as ijson at any chunking, exact offsets, bounded oversized elements."""

from __future__ import annotations

import io
import json

import ijson
import pytest

from transforms.convert.jsonarray import JsonArraySplitter


def split(data: bytes, chunk: int, limit: int = 1 << 20):
    s = JsonArraySplitter(limit)
    out = []
    for i in range(0, len(data), chunk):
        out.extend(s.feed(data[i:i + chunk]))
    out.extend(s.close())
    return out


@pytest.mark.parametrize("chunk", [1, 3, 64, 1 << 16])
def test_matches_ijson_with_exact_offsets(chunk):
    values = [{"text": "引号\"与反斜杠\\,]}", "n": i, "nested": [1, {"a": "]"}]} for i in range(50)] + [1, "s", None, []]
    data = json.dumps(values, ensure_ascii=False, indent=1).encode()
    out = split(data, chunk)
    assert [json.loads(e.raw) for e in out] == list(ijson.items(io.BytesIO(data), "item", use_float=True))
    assert all(data[e.offset:e.offset + e.size] == e.raw for e in out)


def test_oversized_element_is_hashed_not_kept():
    import hashlib

    big = b'"' + b"x" * 5000 + b'"'
    out = split(b"[" + big + b", 2]", 100, limit=1000)
    assert out[0].error.startswith("oversized") and out[0].sha256 == hashlib.sha256(big).hexdigest() and len(out[0].raw) <= 1100
    assert json.loads(out[1].raw) == 2


def test_not_an_array_and_truncation():
    with pytest.raises(ValueError):
        split(b'{"a": 1}', 10)
    out = split(b'[1, {"a": ', 4)
    assert out[0].raw == b"1" and "truncated" in out[1].error
