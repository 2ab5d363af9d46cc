"""Foundation operators on inline and real text."""

import json

import pyarrow as pa

from transforms.basic import DedupExact, DropShortDocs, NormalizeWhitespace, count_text_chars
from transforms.ops import OpStats
from transforms.schema import docs_from_pylist


def _docs(texts):
    return docs_from_pylist([dict(id=f"d{i}", text=t, source="s", source_uri=f"f:{i}", raw_sha256="0" * 64)
                             for i, t in enumerate(texts)])


def test_normalize_whitespace_keeps_cjk_punctuation_and_paragraphs():
    raw = "\ufeff  秦川雄帝宅，函谷壯皇居。\r\n\r\n\r\n\r\n「你好」！  world\x07\u200b\t\tend  \n"
    out = NormalizeWhitespace().apply(_docs([raw]), OpStats())
    assert out.column("text").to_pylist() == ["秦川雄帝宅，函谷壯皇居。\n\n「你好」！ world end"]
    assert out.column("trace").to_pylist()[0][0].startswith(f"{NormalizeWhitespace().op_id}: ")


def test_normalize_whitespace_keeps_joiners_unless_asked():
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467 家庭"
    assert NormalizeWhitespace().apply(_docs([family]), OpStats()).column("text").to_pylist() == [family]
    stripped = NormalizeWhitespace(strip_joiners=True).apply(_docs([family]), OpStats()).column("text").to_pylist()
    assert stripped == ["\U0001F468\U0001F469\U0001F467 家庭"]


def test_normalize_whitespace_leaves_clean_text_untouched_and_untraced():
    clean = "床前明月光，疑是地上霜。\n舉頭望明月，低頭思故鄉。"
    stats = OpStats()
    out = NormalizeWhitespace().apply(_docs([clean]), stats)
    assert out.column("text").to_pylist() == [clean]
    assert out.column("trace").to_pylist() == [None]
    assert not stats.counts


def test_ideographic_space_is_content_not_layout():
    text = "第一章\u3000總則"
    out = NormalizeWhitespace().apply(_docs([text]), OpStats())
    assert out.column("text").to_pylist() == [text]


def test_min_length_counts_characters_not_words():
    assert count_text_chars(pa.array(["你好世界", "a b c", "hello world", "第一章\u3000總則"])).to_pylist() == [4, 3, 10, 5]
    out = DropShortDocs(min_chars=5).apply(_docs(["你好世界", "你好，世界！", "hello world"]), OpStats())
    # Chinese has no spaces: a 6-character sentence is 6 characters, not one "word".
    assert out.column("drop_reason").to_pylist() == ["too_short", None, None]


def test_dedup_exact_first_and_longest():
    texts = ["你好，世界！", "你好,世界!", "other text here", "你好，世界！ "]
    first = DedupExact(normalize=("whitespace", "width")).apply(_docs(texts), OpStats())
    assert first.column("drop_reason").to_pylist() == [None, "exact_duplicate", None, "exact_duplicate"]
    assert first.column("duplicate_of").to_pylist() == [None, "d0", None, "d0"]
    assert first.column("cluster_id").to_pylist() == ["d0", "d0", None, "d0"]
    longest = DedupExact(normalize=("whitespace", "width"), keep="longest").apply(_docs(texts), OpStats())
    assert longest.column("drop_reason").to_pylist() == ["exact_duplicate", "exact_duplicate", None, None]
    assert longest.column("duplicate_of").to_pylist() == ["d3", "d3", None, None]


def test_dedup_exact_on_real_tang_duplicates(corpora):
    poems = json.loads((corpora / "chinese-poetry/全唐诗/poet.tang.0.json").read_text(encoding="utf-8"))
    bodies = ["\n".join(p["paragraphs"]) for p in poems]
    n_unique = len(set("".join(b.split()) for b in bodies))
    out = DedupExact().apply(_docs(bodies), OpStats())
    kept = [r for r in out.column("drop_reason").to_pylist() if r is None]
    assert len(kept) == n_unique
