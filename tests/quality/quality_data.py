"""Real text from ../shared/corpora for the quality tests, and a deterministic annotation export built from it.

How the labels are made (exactly): every document is real text nobody on this project wrote --
SOHU news passages (paragraph breaks restored from the dataset's runs of spaces), lingua English
and Japanese sentences (8 per document), Common Voice Cantonese sentences (8 per document). Each
such original is a "good" item. For 60% of the originals (chosen by a seeded RNG) one degraded
copy is added as a "bad" item, degraded by one of six seeded, deterministic transformations a web
crawl really produces: characters shuffled inside each line, UTF-8 read as GBK/Latin-1 (mojibake),
the text cut into menu-like fragments, one sentence repeated, punctuation stripped and lines
broken every few characters, or the text truncated and padded with another document's first line
repeated. Three simulated annotators (accuracy 0.95, 0.90, 0.80, seeded) judge every item; their
judgements are aggregated by majority vote with quality.aggregate (the annotation engineer's
code), so about 3% of the aggregated labels are wrong, as in a real export. The original and its
degraded copy share a ``group`` so held-out splits never separate them.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from quality.aggregate import aggregate_labels, label_columns
from transforms.schema import docs_from_pylist, make_doc_id, sha256_hex

ANNOTATOR_ACCURACY: tuple[float, ...] = (0.95, 0.90, 0.80)
DEGRADATIONS: tuple[str, ...] = ("shuffle", "mojibake", "fragments", "repeat", "linebreaks", "pad_repeat")


def sohu_passages(corpora: Path, limit: int, min_chars: int = 200) -> list[str]:
    """Return up to `limit` distinct SOHU passages with paragraph breaks restored."""
    out: dict[str, None] = {}
    for name in ("dc-test.jsonl", "dd-test.jsonl"):
        for line in (corpora / "sohu-sts" / "SOHU" / name).read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            for key in ("sentence1", "sentence2"):
                text = re.sub(r" {2,}", "\n", rec[key]).strip()
                if len(text) >= min_chars:
                    out.setdefault(text, None)
                if len(out) >= limit:
                    return list(out)
    return list(out)


def joined_sentences(path: Path, per_doc: int, limit: int, start: int = 0) -> list[str]:
    """Return documents of `per_doc` consecutive lines from a one-sentence-a-line file."""
    lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()][start:]
    docs = ["\n".join(lines[i : i + per_doc]) for i in range(0, len(lines) - per_doc + 1, per_doc)]
    return docs[:limit]


def cantonese_docs(corpora: Path, per_doc: int, limit: int) -> list[str]:
    sents = json.loads((corpora / "cantonese-common-voice" / "sents.json").read_text(encoding="utf-8"))
    sents = [s for s in sents if isinstance(s, str) and s.strip()]
    return ["\n".join(sents[i : i + per_doc]) for i in range(0, per_doc * limit, per_doc)]


def real_documents(corpora: Path, n_zh: int = 320, n_en: int = 100, n_ja: int = 45, n_yue: int = 80) -> list[tuple[str, str, str]]:
    """Return (source, lang, text) for real documents of four languages."""
    lingua = corpora / "lingua-sentences"
    return (
        [("sohu", "zh", t) for t in sohu_passages(corpora, n_zh)]
        + [("lingua-en", "en", t) for t in joined_sentences(lingua / "en.txt", 8, n_en)]
        + [("lingua-ja", "ja", t) for t in joined_sentences(lingua / "ja.txt", 8, n_ja)]
        + [("cv-yue", "yue", t) for t in cantonese_docs(corpora, 8, n_yue)]
    )


def degrade(text: str, kind: str, rng: random.Random, other: str) -> str:
    """Return a deterministically damaged copy of `text` (see the module docstring)."""
    lines = text.split("\n")
    if kind == "shuffle":
        out = []
        for line in lines:
            chars = list(line)
            rng.shuffle(chars)
            out.append("".join(chars))
        return "\n".join(out)
    if kind == "mojibake":
        codec = "gbk" if rng.random() < 0.5 else "latin-1"
        return text.encode("utf-8").decode(codec, errors="replace")
    if kind == "fragments":
        pieces = re.split(r"[，。！？,.!?；;：:\s]+", text)
        return "\n".join(p[: rng.randint(2, 6)] for p in pieces if p)
    if kind == "repeat":
        sentences = [s for s in re.split(r"(?<=[。！？.!?])", text) if s.strip()]
        s = sentences[rng.randrange(len(sentences))] if sentences else text[:20]
        return "\n".join([s.strip()] * rng.randint(6, 15))
    if kind == "linebreaks":
        bare = re.sub(r"[，。！？、；：“”‘’（）《》,.!?;:\"'()\n]", "", text)
        step = rng.randint(3, 7)
        return "\n".join(bare[i : i + step] for i in range(0, len(bare), step))
    if kind == "pad_repeat":
        head = text[: max(20, len(text) // 3)]
        pad = (other.split("\n")[0][:30] + "\n") * rng.randint(5, 12)
        return head + "\n" + pad
    raise ValueError(kind)


def build_annotation_export(corpora: Path, out_dir: Path, seed: int = 7) -> tuple[Path, Path, dict]:
    """Write documents.parquet and annotations.parquet (aggregated, Label-Studio-export-like); return paths and counts."""
    rng = random.Random(seed)
    originals = real_documents(corpora)
    docs, truth, judgements = [], {}, []
    for i, (source, lang, text) in enumerate(originals):
        items = [(text, "good", source)]
        if rng.random() < 0.6:
            kind = DEGRADATIONS[rng.randrange(len(DEGRADATIONS))]
            other = originals[(i + 17) % len(originals)][2]
            items.append((degrade(text, kind, rng, other), "bad", f"{source}+{kind}"))
        for j, (t, label, src) in enumerate(items):
            raw = sha256_hex(t.encode("utf-8"))
            doc_id = make_doc_id(src, f"{i}:{j}", raw)
            meta = json.dumps({"group": f"g{i}", "truth": label}, ensure_ascii=False)
            docs.append(dict(id=doc_id, text=t, source=src, source_uri=f"quality-fixture#{i}.{j}", raw_sha256=raw, lang=lang, meta=meta))
            truth[doc_id] = label
            for a, acc in enumerate(ANNOTATOR_ACCURACY):
                said = label if rng.random() < acc else ("bad" if label == "good" else "good")
                judgements.append({"item": doc_id, "annotator": f"annotator-{a}", "label": said})
    documents = docs_from_pylist(docs)
    documents = documents.append_column("group", pa.array([json.loads(d["meta"])["group"] for d in docs]))
    aggregated = aggregate_labels(pa.Table.from_pylist(judgements), method="majority_vote")
    annotations = label_columns(aggregated, "quality", "majority_vote")
    out_dir.mkdir(parents=True, exist_ok=True)
    docs_path, ann_path = out_dir / "documents.parquet", out_dir / "annotations.parquet"
    pq.write_table(documents, docs_path)
    pq.write_table(annotations, ann_path)
    agg = dict(zip(annotations.column("id").to_pylist(), annotations.column("label_quality").to_pylist()))
    wrong = sum(agg[k] != v for k, v in truth.items())
    counts = {"documents": len(docs), "good": sum(v == "good" for v in truth.values()),
              "bad": sum(v == "bad" for v in truth.values()), "aggregated_label_errors": wrong}
    return ann_path, docs_path, counts


# One English paragraph (59 words) and translations of it into the scripts written without spaces
# between words (written for these tests). Whitespace splits them into phrases, not words.
UNSPACED_PARAGRAPHS: dict[str, str] = {
    "en": "The river flows past the old village. Every morning, farmers walk to their fields and children go to school. "
          "In the rainy season the water rises and the roads become muddy. People in the village help each other, and in "
          "the evening families eat together and talk about the day. Visitors say it is a quiet and friendly place.",
    "th": "แม่น้ำไหลผ่านหมู่บ้านเก่า ทุกเช้าชาวนาเดินไปที่นาของพวกเขาและเด็กๆ ไปโรงเรียน ในฤดูฝนน้ำจะสูงขึ้นและถนนก็เป็นโคลน "
          "คนในหมู่บ้านช่วยเหลือกันและกัน และในตอนเย็นครอบครัวกินข้าวด้วยกันและพูดคุยเกี่ยวกับวันนั้น "
          "นักท่องเที่ยวบอกว่าที่นี่เป็นสถานที่ที่เงียบสงบและเป็นมิตร",
    "lo": "ແມ່ນ້ຳໄຫຼຜ່ານບ້ານເກົ່າ ທຸກໆເຊົ້າຊາວນາຍ່າງໄປນາຂອງເຂົາເຈົ້າ ແລະເດັກນ້ອຍໄປໂຮງຮຽນ ໃນລະດູຝົນນ້ຳຂຶ້ນສູງ ແລະຖະໜົນກໍເປັນຂີ້ຕົມ "
          "ຄົນໃນບ້ານຊ່ວຍເຫຼືອກັນ ແລະໃນຕອນແລງຄອບຄົວກິນເຂົ້ານຳກັນ ແລະລົມກັນກ່ຽວກັບມື້ນັ້ນ ນັກທ່ອງທ່ຽວເວົ້າວ່າບ່ອນນີ້ງຽບສະຫງົບ ແລະເປັນມິດ",
    "km": "ទន្លេហូរកាត់ភូមិចាស់។ រៀងរាល់ព្រឹក កសិករដើរទៅស្រែរបស់ពួកគេ ហើយក្មេងៗទៅសាលារៀន។ នៅរដូវវស្សា ទឹកឡើងខ្ពស់ "
          "ហើយផ្លូវក្លាយជាភក់។ អ្នកភូមិជួយគ្នាទៅវិញទៅមក ហើយនៅពេលល្ងាច គ្រួសារញ៉ាំបាយជាមួយគ្នា និងនិយាយអំពីថ្ងៃនោះ។ "
          "ភ្ញៀវទេសចរនិយាយថា នេះជាកន្លែងស្ងប់ស្ងាត់ និងរួសរាយរាក់ទាក់។",
    "my": "မြစ်သည် ရွာဟောင်းကို ဖြတ်၍ စီးဆင်းသည်။ နံနက်တိုင်း လယ်သမားများသည် ၎င်းတို့၏ လယ်ကွင်းများသို့ လမ်းလျှောက်သွားကြပြီး "
          "ကလေးများသည် ကျောင်းသို့ သွားကြသည်။ မိုးရာသီတွင် ရေတက်လာပြီး လမ်းများ ရွှံ့ထူလာသည်။ ရွာသားများသည် တစ်ဦးကိုတစ်ဦး "
          "ကူညီကြပြီး ညနေတွင် မိသားစုများ အတူတကွ ထမင်းစားကာ ထိုနေ့အကြောင်း စကားပြောကြသည်။ "
          "ဧည့်သည်များက ဤနေရာသည် တိတ်ဆိတ်ပြီး ဖော်ရွေသော နေရာဖြစ်သည်ဟု ဆိုကြသည်။",
    "bo": "གཙང་པོ་ནི་གྲོང་གསེབ་རྙིང་པའི་རྒྱུད་ནས་འབབ་ཀྱི་ཡོད། ཞོགས་པ་རེ་རེར་ཞིང་པ་ཚོ་རང་གི་ཞིང་ཁར་འགྲོ་གི་ཡོད་ལ་བུ་ཕྲུག་ཚོ་སློབ་གྲྭར་འགྲོ་གི་ཡོད། "
          "ཆར་པའི་དུས་ཚིགས་ལ་ཆུ་མཐོ་རུ་འགྲོ་བ་དང་ལམ་ཁ་འདམ་བག་ཅན་ཆགས་ཀྱི་ཡོད། གྲོང་གསེབ་ཀྱི་མི་ཚོས་ཕན་ཚུན་རོགས་རམ་བྱེད་ཀྱི་ཡོད། "
          "དགོང་མོ་ཁྱིམ་ཚང་ཚོས་མཉམ་དུ་ཁ་ལག་ཟ་ཞིང་ཉིན་དེའི་སྐོར་ལ་གླེང་མོལ་བྱེད་ཀྱི་ཡོད། "
          "ཡུལ་སྐོར་བ་ཚོས་ས་ཆ་འདི་ཁ་རོག་པོ་དང་མཛའ་མཐུན་ལྡན་པའི་ས་ཆ་ཞིག་རེད་ཟེར།",
}
