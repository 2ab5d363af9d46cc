"""Near-duplicate (MinHash LSH) and repeated-line dedup, right on Chinese: pure, vectorised, shardable.

The pipeline per batch of texts, over one codepoint array (no per-document Python loop); case
folding, shingling and OPH signing run as numba kernels (`transforms._dedup_kernels`), the one
production path (their numpy references, bit-identical, live in tests/transforms/dedup_reference.py);
every hash comes from `transforms.hashing`:

  normalise (NFKC, casefold, optional OpenCC t2s/tw2sp/hk2s so a Traditional copy of a Simplified
  document gets the same key) -> tokens (a CJK character is one token, a run of letters/digits in a
  space-delimited script is one token; punctuation, symbols and whitespace separate) -> shingles
  (token n-grams, with n chosen per document: ``char_ngram`` when most tokens are CJK characters,
  ``word_ngram`` otherwise; a document shorter than n is one shingle, never skipped) -> MinHash
  signature (one-permutation hashing with optimal densification, or classic permutations that are
  bit-identical to datasketch's ``affine32`` scheme) -> LSH band hashes with bands/rows chosen from a
  target Jaccard threshold -> candidate pairs -> verification -> star clusters (a document is removed
  only as a near-duplicate of a document that is kept, which it names in ``duplicate_of``; connected
  components, which chain, are an option) -> decisions (``cluster_id``, ``duplicate_of``,
  ``drop_reason``) keyed by id.

The reduce works on the small signature table only; `flows/dedup.py` stages the same functions
through Parquet files for runs that do not fit in memory and for incremental dedup.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from types import ModuleType
from typing import Callable, ClassVar, Literal, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from transforms.basic import apply_duplicate_decisions, opencc_converter
from transforms.hashing import BAND_BASE, CP_BASE, GOLDEN64, TOK_BASE, fmix32, fmix64, power_table, text_hash64
from transforms.lazy import build_once
from transforms.ops import CorpusOp, OpStats, add_trace, mark_dropped, set_column
from transforms.registry import register_op
from transforms.schema import CLUSTER_ID, DUPLICATE_OF

ScriptConversion = Literal["none", "t2s", "tw2s", "tw2sp", "hk2s", "fold"]
Hashing = Literal["oph", "permutations"]
KeepPolicy = Literal["first", "longest", "quality"]
Verify = Literal["none", "signature", "borderline", "exact"]
Clustering = Literal["star", "components"]

_U64 = np.uint64
_MASK32 = _U64(0xFFFFFFFF)
_EMPTY = np.uint32(0xFFFFFFFF)  # empty OPH bin; real values are capped one below
_DOC_SEP = "\ue000"  # private-use char joining documents; survives NFKC, casefold and OpenCC
_TOK_BASE_INV = pow(TOK_BASE, -1, 1 << 64)  # lets the shingler roll its n-gram hash

# Codepoint classes for tokenisation.
_SEP, _WORD, _CJK, _DOCB = 0, 1, 2, 3
_CJK_RANGES = (
    (0x2E80, 0x2FDF), (0x3005, 0x3007), (0x3021, 0x3029), (0x3040, 0x30FF), (0x3100, 0x312F),
    (0x31A0, 0x31BF), (0x31F0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
    (0x20000, 0x323AF),
)
_CLASSIFIED_UPTO = 0x32400  # beyond: unassigned, private use, tags -> separators


@build_once
def codepoint_classes() -> np.ndarray:
    """Return a uint8 table: codepoint -> separator / word char / CJK char / document boundary."""
    table = np.zeros(0x110000, np.uint8)
    for cp in range(_CLASSIFIED_UPTO):
        cat = unicodedata.category(chr(cp))
        if cat[0] in "LMN":
            table[cp] = _WORD
    for lo, hi in _CJK_RANGES:
        seg = table[lo : hi + 1]
        seg[seg == _WORD] = _CJK
    table[0x3005] = _CJK  # 々 iteration mark is Lm; count it as a character of the text
    table[ord(_DOC_SEP)] = _DOCB
    return table


@build_once
def _power_tables(base: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return base^i and base^-i modulo 2^64 for i in [0, size] (built once per (base, size))."""
    return power_table(base, size)


def _powers(base: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return base^i and base^-i modulo 2^64 for i in [0, n] (from a power-of-two sized cached table)."""
    # Sizes are powers of two so a handful of tables serve every n; build_once instead of a bare
    # module dict so threads that grow the table together build it once and see it finished.
    pw, inv = _power_tables(base, max(1 << 16, 1 << int(n).bit_length()))
    return pw[: n + 1], inv[: n + 1]


@build_once
def _fold_tables() -> tuple[np.ndarray, np.ndarray]:
    """Return (codepoint -> casefold(NFKC(c)) when that is one codepoint, codepoint needs the string path).

    NFKC of a string equals per-character NFKC unless a character expands to several codepoints
    or composes with its neighbours (combining marks, Hangul jamo); documents with such characters
    take the exact string path, all others a table lookup.
    """
    fold = np.arange(0x110000, dtype=np.uint32)
    slow = np.zeros(0x110000, bool)
    for cp in range(0x80, _CLASSIFIED_UPTO):
        ch = chr(cp)
        if unicodedata.category(ch)[0] == "M" or 0x1100 <= cp <= 0x11FF or 0xD7B0 <= cp <= 0xD7FF:
            slow[cp] = True
            continue
        out = unicodedata.normalize("NFKC", ch).casefold()
        if len(out) == 1:
            fold[cp] = ord(out)
        else:
            slow[cp] = True
    for cp in range(0x41, 0x5B):
        fold[cp] = cp + 32
    fold[0xD800:0xE000] = 0x20  # lone surrogates cannot be encoded; treat as a separator
    return fold, slow


def normalized_codepoints(texts: list[str], script: ScriptConversion) -> np.ndarray:
    """Return NFKC-casefolded (optionally OpenCC-converted) codepoints of all texts joined by U+E000.

    One numba pass folds by table; only documents with a character whose NFKC expands or composes
    take the exact string path.
    """
    fold, slow = _fold_tables()
    texts = [t.replace(_DOC_SEP, " ") for t in texts]
    cps = np.frombuffer(_DOC_SEP.join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
    folded, needs_string_path = _kernels().fold_codepoints(cps, fold, slow, len(texts))
    if needs_string_path.any():  # e.g. "…" (NFKC "..."): common in Chinese text, so most chunks have one
        for i in np.flatnonzero(needs_string_path).tolist():
            texts[i] = unicodedata.normalize("NFKC", texts[i]).casefold()
        cps = np.frombuffer(_DOC_SEP.join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
        folded, _ = _kernels().fold_codepoints(cps, fold, slow, len(texts))
    return convert_script_codepoints(folded, script)


def convert_script_codepoints(cps: np.ndarray, script: ScriptConversion) -> np.ndarray:
    """Return U+E000-joined codepoints after the OpenCC conversion `script` (unchanged for "none"; "fold": tw2sp + regional vocabulary)."""
    if script == "none":
        return cps
    if script == "fold":
        return fold_codepoints(cps, int(np.count_nonzero(cps == ord(_DOC_SEP))) + 1)
    joined = opencc_converter(script).convert(cps.tobytes().decode("utf-32-le"))
    return np.frombuffer(joined.encode("utf-32-le"), np.uint32)


def convert_script_text(text: str, script: ScriptConversion) -> str:
    """Return `text` converted by the OpenCC config `script`, or folded (see `fold_script_texts`) for "fold"."""
    if script == "none":
        return text
    if script == "fold":
        return fold_script_texts([text])[0]
    return opencc_converter(script).convert(text)


def fold_script_texts(texts: list[str]) -> list[str]:
    """Return each text folded to one Simplified, mainland-vocabulary key (the "fold" script setting; see `fold_codepoints`)."""
    if not texts:
        return []
    joined = _DOC_SEP.join(t.replace(_DOC_SEP, " ") for t in texts)
    cps = fold_codepoints(np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32), len(texts))
    return cps.tobytes().decode("utf-32-le", "surrogatepass").split(_DOC_SEP)


def fold_codepoints(cps: np.ndarray, n_docs: int) -> np.ndarray:
    """Return U+E000-joined documents folded to one Simplified, mainland-vocabulary key each.

    `simplify_traditional_codepoints`, then every document's REGIONAL_FOLDS phrases replaced by
    their key in one compiled pass (REGIONAL_FOLDS also holds tw2sp's mappings of words both
    scripts spell alike, 支援 -> 支持, so a Simplified and a Traditional copy meet on one key).
    """
    return _kernels().replace_phrases(simplify_traditional_codepoints(cps, n_docs), *_regional_fold_arrays())


def simplify_traditional_codepoints(cps: np.ndarray, n_docs: int) -> np.ndarray:
    """Return U+E000-joined documents with Traditional text made Simplified, by the cheapest route per document.

    A document with at least as many Traditional-only as Simplified-only characters (and some)
    goes through OpenCC tw2sp (Taiwan phrases and variants -> mainland Simplified); a mostly
    Simplified one with a few Traditional-only characters has just those converted, character by
    character; others are unchanged. OpenCC costs ~100-200 ns per character, so only Traditional
    text pays it; the routing counts are one compiled pass.
    """
    simp, trad, _ = _kernels().han_counts(cps, _han_flags(), n_docs).T
    opencc_docs = np.flatnonzero((trad > 0) & (trad >= simp))
    mixed_docs = np.flatnonzero((trad > 0) & (trad < simp))
    if not len(opencc_docs) and not len(mixed_docs):
        return cps
    sep = np.flatnonzero(cps == ord(_DOC_SEP))
    starts, ends = np.concatenate(([0], sep + 1)), np.concatenate((sep, [len(cps)]))
    cps = cps.copy()
    lut = _traditional_char_lut()
    for i in mixed_docs.tolist():
        cps[starts[i] : ends[i]] = lut[cps[starts[i] : ends[i]]]
    if len(opencc_docs):  # one OpenCC call for all of them: the per-call overhead is larger than a short text's conversion
        texts = cps.tobytes().decode("utf-32-le", "surrogatepass").split(_DOC_SEP)
        converted = opencc_converter("tw2sp").convert(_DOC_SEP.join(texts[i] for i in opencc_docs.tolist()))
        for i, t in zip(opencc_docs.tolist(), converted.split(_DOC_SEP)):
            texts[i] = t
        cps = np.frombuffer(_DOC_SEP.join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
    return cps


@build_once
def _traditional_char_lut() -> np.ndarray:
    """Return a uint32 table codepoint -> itself, except Traditional-only characters -> OpenCC t2s of them alone."""
    from transforms.langid import TRADITIONAL_ONLY

    chars = list(TRADITIONAL_ONLY)
    simplified = opencc_converter("t2s").convert("\n".join(chars)).split("\n")
    if len(simplified) != len(chars):  # a conversion never adds or removes a line break
        raise RuntimeError("OpenCC t2s changed the number of lines")
    lut = np.arange(0x110000, dtype=np.uint32)
    for c, t in zip(chars, simplified):
        if len(t) == 1:
            lut[ord(c)] = ord(t)
    return lut


_PHRASE_BASE = np.uint64(0x100000001B3)


@build_once
def _regional_fold_arrays() -> tuple:
    """Return REGIONAL_FOLDS as the arrays `_dedup_kernels.replace_phrases` takes (after its `cps`)."""
    keys = list(REGIONAL_FOLDS)
    max_len = max(map(len, keys))

    def phrase_hash(key: str) -> int:
        h = 0
        for ch in key:
            h = (h * int(_PHRASE_BASE) + ord(ch) + 1) % (1 << 64)
        return h

    order = sorted(range(len(keys)), key=lambda i: phrase_hash(keys[i]))
    keys = [keys[i] for i in order]
    key_cps = np.zeros((len(keys), max_len), np.uint32)
    for i, key in enumerate(keys):
        key_cps[i, : len(key)] = [ord(c) for c in key]
    outs = [REGIONAL_FOLDS[key] for key in keys]
    starts = np.zeros(0x110000, np.bool_)
    starts[[ord(key[0]) for key in keys]] = True
    return (
        starts, max_len, np.array([phrase_hash(key) for key in keys], np.uint64), key_cps,
        np.array([len(key) for key in keys], np.int64), np.concatenate(([0], np.cumsum([len(o) for o in outs]))).astype(np.int64),
        np.array([ord(c) for o in outs for c in o], np.uint32), _PHRASE_BASE,
    )


@build_once
def _han_flags() -> np.ndarray:
    """Return a uint8 table codepoint -> bit 1 Simplified-only, 2 Traditional-only, 4 Han (CJK class)."""
    lut = _han_script_lut()
    flags = np.where(lut == HAN_SIMPLIFIED, 1, 0) | np.where(lut == HAN_TRADITIONAL, 2, 0)
    flags |= np.where(codepoint_classes() == _CJK, 4, 0)
    return flags.astype(np.uint8)


def han_character_counts(texts: list[str]) -> np.ndarray:
    """Return an (n, 3) array per text: Simplified-only, Traditional-only and Han characters (one numba pass)."""
    if not texts:
        return np.zeros((0, 3), np.int64)
    joined = _DOC_SEP.join(t.replace(_DOC_SEP, " ") for t in texts)
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32)
    return _kernels().han_counts(cps, _han_flags(), len(texts))


# Words that mainland and Taiwan (or Hong Kong) technical Chinese write differently and that OpenCC
# tw2sp leaves apart, maps one way only, or maps from a word both scripts spell alike (tw2sp turns
# the shared spelling 文件 into 文档 and 程序 into 进程, so a mainland 文件/程序 no longer meets the
# Taiwan 檔案/程式 it translates). Applied after tw2sp to every text, Simplified or not, so each
# variant lands on one key; merging near-synonyms (process/program) only matters for texts that
# differ in nothing else, which are near-duplicates anyway. Chosen from the tuning sources listed in
# docs/dedup.md (manpages-zh, maint-guide) and OpenCC's own tw2sp output, never the held-out set.
REGIONAL_FOLDS: dict[str, str] = {
    "文档": "文件", "档案": "文件", "进程": "程序", "程式": "程序", "预设": "默认", "缺省": "默认",
    "执行": "运行", "帐号": "账户", "账号": "账户", "帐户": "账户", "设定": "设置", "软件包": "套件",
    "资讯": "信息", "消息": "信息", "讯息": "信息", "系结": "绑定", "拷贝": "复制", "唯读": "只读",
    "全域": "全局", "分割区": "分区", "扩充": "扩展", "识别码": "标识符", "协定": "协议", "闸道": "网关",
    "网域名称": "域名", "品质": "质量", "另存新档": "另存为", "文字方块": "文本框", "保存格": "单元格",
    "储存格": "单元格", "试算表": "电子表格", "投视频": "幻灯片", "投影片": "幻灯片", "范本": "模板",
    "取代": "替换", "复原": "撤销", "选取": "选择", "栏位": "字段", "传回": "返回", "回传": "返回",
    "指令稿": "脚本", "指令": "命令", "封包": "数据包", "搜寻": "搜索", "相依性": "依赖性", "相依": "依赖",
    "核取方块": "复选框", "捷径": "快捷方式", "使用者": "用户", "软体": "软件", "硬体": "硬件",
    "参看": "参考", "构建": "编译", "反安装": "卸载", "解除安装": "卸载",
    # tw2sp's mappings of technical words both scripts spell alike (from OpenCC's TWPhrasesRev): a
    # Simplified text skips OpenCC, so these are folded here to the word tw2sp gives a Traditional one.
    "介面": "界面", "支援": "支持", "建立": "创建", "新增": "添加", "核心": "内核", "影像": "图像",
    "物件": "对象", "字串": "字符串", "字元": "字符", "存取": "访问", "列印": "打印", "登入": "登录",
    "登出": "注销", "伺服器": "服务器", "磁碟": "磁盘", "硬碟": "硬盘", "相容": "兼容", "位元": "比特",
    "位址": "地址", "效能": "性能", "整合": "集成", "快取": "缓存", "函式": "函数", "演算法": "算法",
    "宣告": "声明", "呼叫": "调用", "命令列": "命令行", "停用": "禁用", "元件": "组件", "非同步": "异步",
    "埠": "端口", "映象": "镜像", "溢位": "溢出", "滑鼠": "鼠标", "光碟": "光盘", "巨集": "宏",
    "最佳化": "优化", "排程": "调度", "批次": "批量", "序列": "串行", "影片": "视频", "剪下": "剪切",
    "全形": "全角", "半形": "半角", "分散式": "分布式", "字型": "字体", "重新命名": "重命名",
    "重新整理": "刷新", "解析度": "分辨率", "部落格": "博客", "晶片": "芯片", "智慧": "智能", "社群": "社区",
    "多工": "多任务", "外接": "外置", "表示式": "表达式", "工作列": "任务栏", "分割槽": "分区", "定址": "寻址",
    "遮蔽": "屏蔽", "稽核": "审核", "奈米": "纳米", "雷射": "激光", "防毒": "杀毒",
}


# Han script of a document, from characters only one script uses (the tables transforms.langid
# ships, built from OpenCC's dictionaries): decides which pairs the cross-script stage compares.
HAN_OTHER, HAN_SIMPLIFIED, HAN_TRADITIONAL = 0, 1, 2


@build_once
def _han_script_lut() -> np.ndarray:
    """Return a uint8 table codepoint -> 1 Simplified-only / 2 Traditional-only / 0 either or not Han."""
    from transforms.langid import SIMPLIFIED_ONLY, TRADITIONAL_ONLY

    lut = np.zeros(0x110000, np.uint8)
    lut[[ord(c) for c in SIMPLIFIED_ONLY]] = HAN_SIMPLIFIED
    lut[[ord(c) for c in TRADITIONAL_ONLY]] = HAN_TRADITIONAL
    return lut


def han_script_classes(texts: list[str], min_chars: int = 3, margin: float = 1.5) -> np.ndarray:
    """Return per text HAN_SIMPLIFIED / HAN_TRADITIONAL when its script-specific characters say so, else HAN_OTHER.

    Decided like transforms.langid.han_script (one side must outnumber the other `margin` times)
    plus at least `min_chars` such characters, so a short or mixed text is in neither class.
    """
    if not texts:
        return np.zeros(0, np.int8)
    counts = han_character_counts(texts)
    s, t = counts[:, 0], counts[:, 1]
    out = np.full(len(texts), HAN_OTHER, np.int8)
    out[(s >= min_chars) & (s >= margin * t)] = HAN_SIMPLIFIED
    out[(t >= min_chars) & (t >= margin * s)] = HAN_TRADITIONAL
    return out


# Latin letters/digits (ASCII or full width): commands, file names, versions and numbers, which a
# translation between regions keeps as they are. A bottom-k sketch of them verifies cross-script pairs.
_LATIN_TOKEN = re.compile(r"[0-9A-Za-z\uFF10-\uFF19\uFF21-\uFF3A\uFF41-\uFF5A]+(?:[._\-/:][0-9A-Za-z\uFF10-\uFF19\uFF21-\uFF3A\uFF41-\uFF5A]+)*")
LATIN_SKETCH = 64


def latin_sketch(text: str, k: int = LATIN_SKETCH) -> np.ndarray:
    """Return the k smallest CRC-32s of the distinct casefolded Latin/digit tokens of `text` (sorted uint32)."""
    tokens = {unicodedata.normalize("NFKC", t).casefold() for t in _LATIN_TOKEN.findall(text)}
    if not tokens:
        return np.zeros(0, np.uint32)
    h = np.unique(np.fromiter((zlib.crc32(t.encode("utf-8")) for t in tokens), np.uint32, count=len(tokens)))
    return h[:k]


def sketch_jaccard(a: np.ndarray, b: np.ndarray, k: int = LATIN_SKETCH) -> float:
    """Return the bottom-k Jaccard estimate of two latin_sketch arrays (1.0 when both are empty)."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    union = np.union1d(a, b)[:k]
    both = np.intersect1d(a, b, assume_unique=True)
    return float(np.isin(union, both, assume_unique=True).sum()) / len(union)


_CHUNK_CODEPOINTS = 1 << 20  # bounds the cached power tables and temporaries (~100 MB)
_SIGN_BATCH = 4096  # documents signed at once: bounds the shingle arrays of a large shard


def shingle_hashes(
    texts: list[str], char_ngram: int, word_ngram: int, script: ScriptConversion = "none", cjk_share: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (64-bit shingle hashes, per-document offsets into them, per-document is-CJK flags).

    A document whose tokens are at least `cjk_share` CJK characters is shingled by `char_ngram`
    characters, any other by `word_ngram` words; shorter documents give one shingle of all tokens.
    Texts are shingled in chunks of about a million codepoints, which bounds the temporaries.
    """
    chunk_fn = _shingle_chunk
    parts, start, size = [], 0, 0
    for i, t in enumerate(texts):
        size += len(t) + 1
        if size >= _CHUNK_CODEPOINTS:
            parts.append(chunk_fn(texts[start : i + 1], char_ngram, word_ngram, script, cjk_share))
            start, size = i + 1, 0
    if start < len(texts) or not parts:
        parts.append(chunk_fn(texts[start:], char_ngram, word_ngram, script, cjk_share))
    if len(parts) == 1:
        return parts[0]
    hashes = np.concatenate([p[0] for p in parts])
    base = np.cumsum([0] + [p[1][-1] for p in parts[:-1]])
    offsets = np.concatenate([[0]] + [p[1][1:] + b for p, b in zip(parts, base)])
    return hashes, offsets, np.concatenate([p[2] for p in parts])


def _shingle_chunk(
    texts: list[str], char_ngram: int, word_ngram: int, script: ScriptConversion, cjk_share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shingle one chunk of texts (see `shingle_hashes`) with the numba kernel."""
    if not texts:
        return np.zeros(0, _U64), np.zeros(1, np.int64), np.zeros(0, bool)
    cps = normalized_codepoints(texts, script)
    return _kernels().shingle_codepoints(
        cps, codepoint_classes(), len(texts), char_ngram, word_ngram, float(cjk_share),
        _U64(CP_BASE), _U64(TOK_BASE), _U64(_TOK_BASE_INV),
    )


def _kernels() -> ModuleType:
    """Return the numba kernel module, imported on first use (numba's import costs ~0.5 s)."""
    from transforms import _dedup_kernels

    return _dedup_kernels


def _oph_seed_mix(seed: int) -> np.uint64:
    """Return the 64-bit value OPH xors into every shingle hash for `seed`."""
    return _U64(seed * GOLDEN64 % (1 << 64))


def oph_signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """Return one-permutation-hashing MinHash signatures (docs x num_perm uint32), optimally densified.

    Each shingle hash falls in one of `num_perm` bins and the minimum per bin is kept, so the cost
    is O(shingles), not O(shingles x permutations); empty bins borrow a filled bin chosen by a
    seeded hash of (bin, attempt), the same for every document (Shrivastava 2017).
    """
    k = _kernels()
    sig = k.oph_bins(np.ascontiguousarray(hashes, _U64), np.ascontiguousarray(offsets, np.int64), num_perm, _oph_seed_mix(seed))
    k.densify_rows(sig, _densify_candidates(num_perm, seed, 8 * num_perm))
    return sig


@build_once
def _densify_candidates(num_perm: int, seed: int, attempts: int) -> np.ndarray:
    """Return the bin each empty bin borrows from at each attempt (attempts x num_perm)."""
    j = np.arange(num_perm, dtype=_U64)[None, :]
    a = np.arange(1, attempts + 1, dtype=_U64)[:, None]
    mixed = fmix64(j * _U64(0xD6E8FEB86659FD93) + a * _U64(GOLDEN64) + _U64(seed))
    return (mixed % _U64(num_perm)).astype(np.int64)


@build_once
def datasketch_affine32_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return datasketch's affine32 permutation parameters (a, b) for (num_perm, seed)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def permutation_signatures(
    hashes32: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int, chunk: int = 1 << 16
) -> np.ndarray:
    """Return classic MinHash signatures (docs x num_perm uint32), bit-identical to datasketch affine32.

    `hashes32` are 32-bit shingle hashes; datasketch with ``hashfunc=identity`` on the same values
    gives the same signature (tests hold us to that).
    """
    n_docs = len(offsets) - 1
    a, b = datasketch_affine32_permutations(num_perm, seed)
    hv = fmix32(hashes32.astype(np.uint32))
    sig = np.full((n_docs, num_perm), _EMPTY, np.uint32)
    counts = np.diff(offsets)
    nonempty = np.flatnonzero(counts > 0)
    # Process whole documents in chunks of about `chunk` shingles to bound the S x P matrix.
    i = 0
    while i < len(nonempty):
        j = int(np.searchsorted(offsets[nonempty + 1], offsets[nonempty[i]] + chunk, side="right"))
        j = max(j, i + 1)
        docs = nonempty[i:j]
        lo, hi = offsets[docs[0]], offsets[docs[-1] + 1]
        phv = hv[lo:hi, None] * a[None, :] + b[None, :]
        sig[docs] = np.minimum.reduceat(phv, offsets[docs] - lo, axis=0)
        i = j
    return sig


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """Return (bands, rows) minimising the weighted false-positive + false-negative area (datasketch's rule)."""
    s_lo = np.linspace(0.0, threshold, 1001)
    s_hi = np.linspace(threshold, 1.0, 1001)
    best, opt = float("inf"), (1, 1)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.trapezoid(1 - (1 - s_lo**r) ** b, s_lo)
            fn = np.trapezoid((1 - s_hi**r) ** b, s_hi)
            err = fp * fp_weight + fn * fn_weight
            if err < best:
                best, opt = err, (b, r)
    return opt


def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Return one signed 64-bit hash per (document, band) over `rows` signature values each."""
    n = sig.shape[0]
    v = sig[:, : bands * rows].astype(_U64).reshape(n, bands, rows)
    pw, _ = _powers(BAND_BASE, rows)
    acc = (v * pw[None, None, :rows]).sum(axis=2, dtype=_U64)
    acc = fmix64(acc + np.arange(bands, dtype=_U64)[None, :] * _U64(GOLDEN64))
    return acc.view(np.int64)


BUCKET_WINDOW = 4  # each bucket member is paired with this many predecessors (and the bucket's first member)


def candidate_pairs(band_matrix: np.ndarray, active: np.ndarray, window: int = BUCKET_WINDOW) -> np.ndarray:
    """Return unique (i, j) pairs, i < j, of active rows sharing a band bucket (star + window edges).

    Rows are global positions; in each bucket every member is paired with the bucket's first member
    and its `window` predecessors: buckets of up to window + 2 rows are fully paired, larger ones with
    (window + 1)(k - 1) edges instead of k^2/2. Star clustering removes a row only next to a kept row
    it is paired with, so it needs more than the 2(k - 1) edges that keep a bucket connected.
    """
    idx_all = np.flatnonzero(active)
    pairs = []
    for b in range(band_matrix.shape[1]):
        keys = band_matrix[idx_all, b]
        order = np.argsort(keys, kind="stable")
        k, idx = keys[order], idx_all[order]
        same = np.concatenate(([False], k[1:] == k[:-1]))
        if not same.any():
            continue
        pos = np.arange(len(k))
        head = np.maximum.accumulate(np.where(same, 0, pos))
        m = np.flatnonzero(same)
        pairs.append(np.stack([idx[head[m]], idx[m]], axis=1))
        for lag in range(1, window + 1):
            mm = m[m - lag >= head[m]]
            pairs.append(np.stack([idx[mm - lag], idx[mm]], axis=1))
    if not pairs:
        return np.zeros((0, 2), np.int64)
    p = np.concatenate(pairs)
    p = np.sort(p, axis=1)
    p = p[p[:, 0] != p[:, 1]]
    return np.unique(p, axis=0)


def signature_similarity(sig: np.ndarray, pairs: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Return the MinHash Jaccard estimate for each (i, j) pair."""
    out = np.empty(len(pairs), np.float64)
    for s in range(0, len(pairs), chunk):
        p = pairs[s : s + chunk]
        out[s : s + chunk] = (sig[p[:, 0]] == sig[p[:, 1]]).mean(axis=1)
    return out


def component_labels(n: int, pairs: np.ndarray) -> np.ndarray:
    """Return a connected-component label per row of an n-row graph given its edges (union-find)."""
    if len(pairs) == 0:
        return np.arange(n)
    g = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(g, directed=False)[1]


def keep_rank(sigs: pa.Table, keep: KeepPolicy) -> np.ndarray:
    """Return a rank per row (lower wins): existing release rows first, then the keep policy, then (shard, row)."""
    n = sigs.num_rows
    shard = sigs.column("shard").to_numpy().astype(np.int64)
    row = sigs.column("row").to_numpy().astype(np.int64)
    keys = [row, shard]  # np.lexsort: last key is primary
    if keep == "longest":
        keys.append(-sigs.column("length").to_numpy().astype(np.int64))
    elif keep == "quality":
        score = sigs.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
        keys.append(np.where(np.isnan(score), np.inf, -score))  # missing scores lose
    if "existing" in sigs.column_names:
        keys.append(~sigs.column("existing").to_numpy(zero_copy_only=False).astype(bool))
    order = np.lexsort(keys)
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    return rank


def cluster_decisions(ids: pa.Array, labels: np.ndarray, rank: np.ndarray, reason: str, emit: np.ndarray) -> pa.Table:
    """Return decisions for rows in clusters of size > 1: cluster_id/duplicate_of = the winner's id."""
    n = len(labels)
    size = np.bincount(labels, minlength=n)
    winner_rank = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(winner_rank, labels, rank)
    by_rank = np.empty(n, np.int64)
    by_rank[rank] = np.arange(n)
    winner = by_rank[winner_rank[labels]]
    member = (size[labels] > 1) & emit
    rows = np.flatnonzero(member)
    is_winner = winner[rows] == rows
    win_ids = ids.take(pa.array(winner[rows]))
    return pa.table(
        {
            "id": ids.take(pa.array(rows)),
            CLUSTER_ID: win_ids,
            DUPLICATE_OF: pc.if_else(pa.array(is_winner), pa.scalar(None, pa.string()), win_ids),
            "drop_reason": pc.if_else(pa.array(is_winner), pa.scalar(None, pa.string()), pa.scalar(reason)),
        }
    )


PairScorer = Callable[[np.ndarray], np.ndarray]


def star_duplicate_of(
    n: int, pairs: np.ndarray, scores: np.ndarray, rank: np.ndarray, rescore: PairScorer | None = None, threshold: float = 0.0,
    settled: np.ndarray | None = None,
) -> np.ndarray:
    """Return per row the kept row it is removed as a near-duplicate of (-1: kept), from verified pairs.

    Rows are decided best rank first: a row is removed only when it is paired with a row already
    kept, and names the most similar one (ties: the better rank). Every removal is therefore within
    the threshold of its kept document, so clusters cannot chain A~B~C into A~C as connected
    components do (issue 24: chains reached pairs with Jaccard 0.02). With `rescore`, a kept row
    paired only with removed rows is also compared with the rows those name (one more verified
    hop: recall the chain gave, without its unverified pairs), and the rows are decided again.
    """
    dup = _star_pass(n, pairs, scores, rank)
    if rescore is None or len(pairs) == 0:
        return dup
    hops = second_hop_pairs(pairs, dup)
    if settled is not None:  # two rows of an earlier release were settled then
        hops = hops[~(settled[hops[:, 0]] & settled[hops[:, 1]])]
    hop_scores = rescore(hops)
    ok = hop_scores >= threshold
    if not ok.any():
        return dup
    return _star_pass(n, np.concatenate([pairs, hops[ok]]), np.concatenate([scores, hop_scores[ok]]), rank)


def second_hop_pairs(pairs: np.ndarray, dup: np.ndarray) -> np.ndarray:
    """Return unique (kept row, row named by a removed partner) pairs not already among `pairs`, i < j."""
    a, b = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
    hop = (dup[a] < 0) & (dup[b] >= 0)
    p = np.stack([a[hop], dup[b[hop]]], axis=1)
    p = np.sort(p[p[:, 0] != p[:, 1]], axis=1)
    if len(p) == 0:
        return np.zeros((0, 2), np.int64)
    p = np.unique(p, axis=0)
    n = int(max(p.max(), pairs.max())) + 1
    known = np.isin(p[:, 0] * n + p[:, 1], pairs[:, 0].astype(np.int64) * n + pairs[:, 1])
    return p[~known]


def _star_pass(n: int, pairs: np.ndarray, scores: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Return `star_duplicate_of` of verified pairs (the numba kernel over both directions of every pair)."""
    if len(pairs) == 0:
        return np.full(n, -1, np.int64)
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    both = np.concatenate([scores, scores]).astype(np.float64)
    by_src = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    touched = np.unique(src)
    order = touched[np.argsort(rank[touched], kind="stable")]
    return _kernels().star_centres(order, rank.astype(np.int64), indptr, dst[by_src], both[by_src])


def star_decisions(ids: pa.Array, dup_of: np.ndarray, reason: str, emit: np.ndarray) -> pa.Table:
    """Return decisions for removed rows (cluster_id = duplicate_of = the kept row they match) and for the kept rows they name."""
    removed = np.flatnonzero((dup_of >= 0) & emit)
    centres = np.unique(dup_of[removed])
    centres = centres[emit[centres]]
    rows = np.concatenate([removed, centres])
    is_removed = np.arange(len(rows)) < len(removed)
    cluster = ids.take(pa.array(np.concatenate([dup_of[removed], centres])))
    return pa.table(
        {
            "id": ids.take(pa.array(rows, pa.int64())),
            CLUSTER_ID: cluster,
            DUPLICATE_OF: pc.if_else(pa.array(is_removed), cluster, pa.scalar(None, pa.string())),
            "drop_reason": pc.if_else(pa.array(is_removed), pa.scalar(reason), pa.scalar(None, pa.string())),
        }
    )


def near_decisions(
    ids: pa.Array, pairs: np.ndarray, scores: np.ndarray, rank: np.ndarray, clustering: Clustering, reason: str, emit: np.ndarray,
    rescore: PairScorer | None = None, threshold: float = 0.0,
) -> pa.Table:
    """Return the decisions of verified pairs under `clustering` (star: removed rows name the kept row they match).

    `rescore(pairs)` scores new pairs for the star's second hop (None: no second hop, e.g. verify=none).
    """
    n = len(rank)
    if clustering == "components":
        return cluster_decisions(ids, component_labels(n, pairs), rank, reason, emit)
    return star_decisions(ids, star_duplicate_of(n, pairs, scores, rank, rescore, threshold, ~emit), reason, emit)


def empty_decisions() -> pa.Table:
    """Return an empty duplicate-decisions table."""
    s = pa.string()
    return pa.table({"id": pa.array([], s), CLUSTER_ID: pa.array([], s), DUPLICATE_OF: pa.array([], s), "drop_reason": pa.array([], s)})


class CrossScript(NamedTuple):
    """Settings of the cross-script stage: which Simplified x Traditional candidate pairs count as near-duplicates."""

    threshold: float  # signature Jaccard estimate after folding
    latin: float  # minimum Jaccard of the Latin/digit token sketches
    length_ratio: float  # minimum smaller/larger shingle count


def cross_script_columns(texts: list[str], sig: np.ndarray, bands: int, rows: int) -> dict[str, pa.Array]:
    """Return the signature columns the cross-script stage needs: Han script class, its band hashes, Latin sketch."""
    classes = han_script_classes(texts)
    empty = np.zeros(0, np.uint32)
    sketches = [latin_sketch(t) if c != HAN_OTHER else empty for t, c in zip(texts, classes.tolist())]
    xb = band_hashes(sig, bands, rows) if len(texts) else np.zeros((0, bands), np.int64)
    return {
        "han_script": pa.array(classes),
        "xbands": pa.FixedSizeListArray.from_arrays(pa.array(xb.reshape(-1)), bands),
        "latin": pa.array(sketches, pa.list_(pa.uint32())),
    }


def cross_candidate_pairs(band_matrix: np.ndarray, han_script: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Return unique (i, j) pairs, i < j, of a Simplified and a Traditional row sharing a cross-script band bucket.

    In each bucket every Simplified member is linked to the bucket's first Traditional member and
    every Traditional member to its first Simplified member: a pair whose one side is alone in its
    script is always linked, with O(members) edges (same-script rows are not linked at all).
    """
    idx_all = np.flatnonzero(active & (han_script != HAN_OTHER))
    if len(idx_all) < 2:
        return np.zeros((0, 2), np.int64)
    cls = han_script[idx_all]
    parts = []
    for b in range(band_matrix.shape[1]):
        keys = band_matrix[idx_all, b]
        order = np.lexsort((idx_all, cls, keys))
        k, idx, c = keys[order], idx_all[order], cls[order]
        new_bucket = np.concatenate(([True], k[1:] != k[:-1]))
        starts = np.flatnonzero(new_bucket)
        group = np.cumsum(new_bucket) - 1
        ends = np.append(starts[1:], len(k))
        # Within a bucket the Simplified rows come first: its first row, and its first Traditional row.
        first_trad = _first_of_class(c, ends, group)
        mixed = (c[starts] == HAN_SIMPLIFIED) & (first_trad < ends)
        rows = np.flatnonzero(mixed[group])
        if len(rows) == 0:
            continue
        g = group[rows]
        other = np.where(c[rows] == HAN_SIMPLIFIED, first_trad[g], starts[g])
        parts.append(np.stack([idx[rows], idx[other]], axis=1))
    if not parts:
        return np.zeros((0, 2), np.int64)
    p = np.sort(np.concatenate(parts), axis=1)
    return np.unique(p, axis=0)


def _first_of_class(c: np.ndarray, ends: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Return per bucket the position of its first Traditional row (its end when it has none)."""
    first = ends.copy()
    trad = np.flatnonzero(c == HAN_TRADITIONAL)
    np.minimum.at(first, group[trad], trad)
    return first


def cross_verified_mask(sigs: pa.Table, pairs: np.ndarray, cross: CrossScript) -> np.ndarray:
    """Return True for each cross-script (i, j) pair whose signature, length and Latin tokens agree.

    Folding leaves translation-level differences, so the shingle Jaccard of a true pair can be low;
    what a regional translation keeps exactly (commands, file names, numbers) and its length are
    checked instead, so unrelated texts on one topic do not merge.
    """
    if len(pairs) == 0:
        return np.zeros(0, bool)
    sig = fixed_matrix(sigs.column("sig"), sigs.num_rows)
    ok = signature_similarity(sig, pairs) >= cross.threshold
    sh = sigs.column("n_shingles").to_numpy().astype(np.float64)
    a, b = sh[pairs[:, 0]], sh[pairs[:, 1]]
    ok &= np.minimum(a, b) >= cross.length_ratio * np.maximum(a, b)
    col = sigs.column("latin").combine_chunks()
    flat, off = col.values.to_numpy(), col.offsets.to_numpy()
    for k in np.flatnonzero(ok):
        i, j = pairs[k]
        ok[k] = sketch_jaccard(flat[off[i] : off[i + 1]], flat[off[j] : off[j + 1]]) >= cross.latin
    return ok & mutual_best(pairs, np.where(ok, signature_similarity(sig, pairs), -1.0), sigs.num_rows)


def mutual_best(pairs: np.ndarray, score: np.ndarray, n: int) -> np.ndarray:
    """Return True for pairs that are each end's best-scoring pair (ties: the first pair), among pairs with score >= 0.

    A regional translation has one counterpart: keeping only reciprocal best matches stops one
    low-threshold edge per template-sharing document from chaining a family of pages into a cluster.
    """
    if len(pairs) == 0:
        return np.zeros(0, bool)
    k = np.arange(len(pairs))
    rows, idx = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([k, k])
    order = np.lexsort((idx, -score[idx], rows))  # per row: best score first, then the first pair
    first = np.unique(rows[order], return_index=True)[1]
    best = np.full(n, -1, np.int64)
    best[rows[order][first]] = idx[order][first]
    return (score >= 0) & (best[pairs[:, 0]] == k) & (best[pairs[:, 1]] == k)


@register_op
class DedupNear(CorpusOp):
    """Drop near-duplicates found by MinHash LSH over script-aware shingles, keeping one per cluster."""

    name: ClassVar[str] = "dedup_near"
    # 2: script folding (tw2sp + regional vocabulary) and the cross-script stage on by default.
    # 3: star clustering by default: duplicate_of names the kept document actually matched, no chains.
    # 4: verify=borderline by default (pairs near the threshold decided by shingle Jaccard); shingle
    #    samples stored as sorted 32-bit hashes (verify=exact too).
    version: ClassVar[int] = 4
    summary: ClassVar[str] = "near-duplicate removal: CJK char / word n-gram MinHash LSH, cross-script stage, components, keep policy"

    threshold: float = Field(0.7, gt=0.0, lt=1.0, description="target Jaccard similarity of a near-duplicate pair")
    num_perm: int = Field(128, ge=8, le=1024, description="MinHash signature length")
    candidate_threshold: float | None = Field(
        None, gt=0.0, lt=1.0,
        description="Jaccard the bands/rows are tuned for (default: threshold - 0.1 when verifying, else threshold)",
    )
    bands: int | None = Field(None, ge=1, description="LSH bands (default: chosen from candidate_threshold)")
    rows: int | None = Field(None, ge=1, description="rows per band (default: chosen from threshold)")
    char_ngram: int = Field(5, ge=1, description="shingle size in characters for CJK documents")
    word_ngram: int = Field(5, ge=1, description="shingle size in words for space-delimited documents")
    script: ScriptConversion = Field(
        "fold", description="script folding before shingling: fold (tw2sp + regional vocabulary), an OpenCC config, or none"
    )
    cross_script_threshold: float | None = Field(
        0.3, gt=0.0, lt=1.0,
        description="Jaccard a Simplified x Traditional pair must reach in the cross-script stage (None: no such stage)",
    )
    cross_script_latin: float = Field(
        0.5, ge=0.0, le=1.0, description="cross-script pairs: minimum Jaccard of their Latin/digit tokens (commands, numbers)"
    )
    cross_script_length_ratio: float = Field(
        0.6, ge=0.0, le=1.0, description="cross-script pairs: minimum ratio of the smaller to the larger shingle count"
    )
    clustering: Clustering = Field(
        "star",
        description="star: a document is removed only as a near-duplicate of a kept one, which duplicate_of names; "
        "components: every connected component of pairs keeps one document (chains: A~B, B~C removes C for A)",
    )
    hashing: Hashing = Field("oph", description="one-permutation hashing (fast) or classic permutations (datasketch-identical)")
    verify: Verify = Field(
        "borderline",
        description="how candidate pairs are checked against threshold: none; signature (MinHash estimate); borderline "
        "(the estimate, and shingle Jaccard for pairs whose estimate is within verify_margin of threshold); exact (shingle Jaccard for every pair)",
    )
    verify_margin: float = Field(
        0.1, ge=0.0, le=1.0, description="verify=borderline: pairs whose signature estimate is this close to threshold get the shingle check"
    )
    verify_shingles: int | None = Field(
        256, ge=16,
        description="verify=borderline/exact: shingle hashes stored per document (its smallest distinct ones: exact Jaccard when both "
        "documents have at most this many, a bottom-k estimate beyond); None: all",
    )
    keep: KeepPolicy = "first"
    quality_column: str = Field("score_quality", description="column ranking documents when keep=quality")
    seed: int = Field(1, ge=0)
    against: tuple[str, ...] = Field(
        (), description="releases (DATASET@VERSION, @latest) whose stored signatures new documents are deduplicated against"
    )

    @model_validator(mode="after")
    def _check_bands(self) -> "DedupNear":
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands*rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self

    def band_rows(self) -> tuple[int, int]:
        """Return the (bands, rows) in use."""
        if self.bands is not None:
            return self.bands, self.rows
        return _cached_optimal_bands(round(self.tuned_threshold(), 6), self.num_perm)

    def cross_band_rows(self) -> tuple[int, int] | None:
        """Return the (bands, rows) of the cross-script stage, tuned 0.1 below its threshold (None when off)."""
        if self.cross_script_threshold is None:
            return None
        return _cached_optimal_bands(round(max(0.05, self.cross_script_threshold - 0.1), 6), self.num_perm)

    def tuned_threshold(self) -> float:
        """Return the Jaccard the LSH bands are tuned for.

        Tuning below the target when candidates are verified trades cheap extra candidates for
        recall: pairs just above the threshold sit on the S-curve's slope and are otherwise missed
        (measured in bench/results/dedup_accuracy.md); verification then restores precision.
        """
        if self.candidate_threshold is not None:
            return self.candidate_threshold
        return max(0.05, self.threshold - 0.1) if self.verify != "none" else self.threshold

    def verification(self) -> Verification:
        """Return how this op scores candidate pairs (mode, threshold, margin, shingle sample size)."""
        return Verification(self.verify, self.threshold, self.verify_margin, self.verify_shingles)

    def stores_shingles(self) -> bool:
        """Return True when signatures carry a shingle sample (verify=borderline or exact)."""
        return self.verify in ("borderline", "exact")

    def sign(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, pa.Array | None]:
        """Return (signatures, shingle counts, shingle samples or None) for texts, in batches that bound peak memory.

        The samples (a list<uint32> array, see `shingle_samples`) are made per batch, so a shard's full
        64-bit shingle hashes are never held at once.
        """
        sigs, counts, values, sample_offsets, base = [], [], [], [np.zeros(1, np.int64)], 0
        for s in range(0, max(len(texts), 1), _SIGN_BATCH):
            hashes, offsets, _ = shingle_hashes(texts[s : s + _SIGN_BATCH], self.char_ngram, self.word_ngram, self.script)
            if self.hashing == "oph":
                sigs.append(oph_signatures(hashes, offsets, self.num_perm, self.seed))
            else:
                sigs.append(permutation_signatures((hashes >> _U64(32)).astype(np.uint32), offsets, self.num_perm, self.seed))
            counts.append(np.diff(offsets).astype(np.int32))
            if self.stores_shingles():
                v, o = shingle_samples(hashes, offsets, self.verify_shingles)
                values.append(v)
                sample_offsets.append(o[1:] + base)
                base += int(o[-1])
        samples = None
        if self.stores_shingles():
            flat = np.concatenate(values) if values else np.zeros(0, np.uint32)
            samples = pa.ListArray.from_arrays(pa.array(np.concatenate(sample_offsets).astype(np.int32)), pa.array(flat, pa.uint32()))
        return np.concatenate(sigs), np.concatenate(counts), samples

    def minhash(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (signatures, 64-bit shingle hashes, offsets) for texts (tests and benchmarks; the op signs with `sign`)."""
        hashes, offsets, _ = shingle_hashes(texts, self.char_ngram, self.word_ngram, self.script)
        if self.hashing == "oph":
            return oph_signatures(hashes, offsets, self.num_perm, self.seed), hashes, offsets
        return permutation_signatures((hashes >> _U64(32)).astype(np.uint32), offsets, self.num_perm, self.seed), hashes, offsets

    def signatures(self, live: pa.Table, shard: int) -> pa.Table:
        texts = live.column("text").to_pylist()
        sig, n_shingles, samples = self.sign(texts)
        b, r = self.band_rows()
        n = live.num_rows
        cols = {
            "id": live.column("id").combine_chunks() if n else pa.array([], pa.string()),
            "shard": pa.array(np.full(n, shard, np.int32)),
            "row": pa.array(np.arange(n, dtype=np.int64)),
            "length": pc.utf8_length(live.column("text")).cast(pa.int64()).combine_chunks() if n else pa.array([], pa.int64()),
            "n_shingles": pa.array(n_shingles),
            "score": _score_column(live, self.quality_column) if self.keep == "quality" else pa.nulls(n, pa.float64()),
            "sig": pa.FixedSizeListArray.from_arrays(pa.array(sig.reshape(-1)), self.num_perm),
            "bands": pa.FixedSizeListArray.from_arrays(pa.array(band_hashes(sig, b, r).reshape(-1)), b),
        }
        if samples is not None:
            cols["shingles"] = samples
        if self.cross_script_threshold is not None:
            cols.update(cross_script_columns(texts, sig, *self.cross_band_rows()))
        return pa.table(cols)

    def cross_script(self) -> CrossScript | None:
        """Return the cross-script stage's settings (None when it is off)."""
        if self.cross_script_threshold is None:
            return None
        return CrossScript(self.cross_script_threshold, self.cross_script_latin, self.cross_script_length_ratio)

    def reduce(self, signatures: pa.Table) -> pa.Table:
        return reduce_near(signatures, self.threshold, self.verification(), self.keep, cross=self.cross_script(), clustering=self.clustering)

    def apply_decisions(self, live: pa.Table, decisions: pa.Table, stats: OpStats) -> pa.Table:
        return apply_duplicate_decisions(live, decisions, self.op_id, stats)


@build_once
def _cached_optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    return optimal_bands(threshold, num_perm)


def _score_column(live: pa.Table, column: str) -> pa.Array:
    if column not in live.column_names and live.num_rows == 0:
        return pa.nulls(0, pa.float64())
    if column not in live.column_names:
        raise ValueError(f"keep=quality needs column {column!r}; present: {', '.join(live.column_names)}")
    return live.column(column).cast(pa.float64()).combine_chunks()


def sort_signatures(signatures: pa.Table) -> pa.Table:
    """Return signatures in a canonical order (existing rows first, then shard, row) for reproducible results."""
    return signatures.take(canonical_order(signatures))


def canonical_order(signatures: pa.Table) -> np.ndarray:
    """Return the row indices that put signatures in the canonical order of `sort_signatures`."""
    keys = [("shard", "ascending"), ("row", "ascending"), ("id", "ascending")]
    table = signatures.select(["shard", "row", "id"])
    if "existing" in signatures.column_names:
        table = table.append_column("_new", pc.invert(signatures.column("existing")))
        keys = [("_new", "ascending")] + keys
    return pc.sort_indices(table, sort_keys=keys).to_numpy()


def reduce_near(
    signatures: pa.Table, threshold: float, verify: Verify | Verification, keep: KeepPolicy, reason: str = "near_duplicate",
    cross: CrossScript | None = None, clustering: Clustering = "star",
) -> pa.Table:
    """Reduce: bands -> candidate pairs -> verification (+ the cross-script stage) -> clusters -> keep policy -> decisions.

    Rows with ``existing = true`` (an earlier release, for incremental dedup) always win their
    cluster and get no decision row of their own.
    """
    if signatures.num_rows == 0:
        return empty_decisions()
    order = canonical_order(signatures)
    samples = signatures.column("shingles") if "shingles" in signatures.column_names else None
    sigs = (signatures if samples is None else signatures.drop_columns(["shingles"])).take(order)  # samples: only rows that need them
    n = sigs.num_rows
    band_matrix = fixed_matrix(sigs.column("bands"), n)
    active = sigs.column("n_shingles").to_numpy() > 0
    pairs = candidate_pairs(band_matrix, active)
    if "existing" in sigs.column_names:
        existing = sigs.column("existing").to_numpy(zero_copy_only=False).astype(bool)
        pairs = pairs[~(existing[pairs[:, 0]] & existing[pairs[:, 1]])]  # old pairs were settled then
    else:
        existing = np.zeros(n, bool)
    check = verify if isinstance(verify, Verification) else Verification(verify, threshold)
    sig = fixed_matrix(sigs.column("sig"), n)

    def score(p: np.ndarray) -> np.ndarray:
        return checked_similarity(p, check, lambda q: signature_similarity(sig, q), lambda q: sample_similarity(samples, order[q], check.sample))

    scores = score(pairs)
    keep_pair = scores >= threshold if check.mode != "none" else np.ones(len(pairs), bool)
    pairs, scores = pairs[keep_pair], scores[keep_pair]
    if cross is not None and "xbands" in sigs.column_names:
        xpairs = cross_candidate_pairs(fixed_matrix(sigs.column("xbands"), n), sigs.column("han_script").to_numpy(), active)
        xpairs = xpairs[~(existing[xpairs[:, 0]] & existing[xpairs[:, 1]])]
        xpairs = xpairs[cross_verified_mask(sigs, xpairs, cross)]
        pairs = np.concatenate([pairs, xpairs])
        scores = np.concatenate([scores, signature_similarity(sig, xpairs)])
    rescore = None if check.mode == "none" else score
    return near_decisions(sigs.column("id").combine_chunks(), pairs, scores, keep_rank(sigs, keep), clustering, reason, ~existing,
                          rescore, threshold)


def fixed_matrix(col: pa.ChunkedArray | pa.Array, n: int) -> np.ndarray:
    """Return an n-row numpy matrix from a (fixed-size or plain) list column of equal-length lists."""
    flat = pc.list_flatten(col)
    flat = flat.combine_chunks() if isinstance(flat, pa.ChunkedArray) else flat
    return flat.to_numpy().reshape(n, -1)


class Verification(NamedTuple):
    """How candidate pairs are scored before the threshold decides them (see `DedupNear.verify`)."""

    mode: Verify
    threshold: float
    margin: float = 0.1  # borderline: pairs whose signature estimate is this close to the threshold get the shingle check
    sample: int | None = None  # shingle hashes kept per document (its smallest distinct ones); None: all of them


def pair_similarity(sigs: pa.Table, pairs: np.ndarray, check: Verification | Verify) -> np.ndarray:
    """Return each (i, j) row pair's similarity under `check`: MinHash estimate, shingle Jaccard, or the estimate with borderline pairs checked.

    A bare mode reads stored shingle samples as whole sets: pass the op's `verification()` when they may be cut.
    """
    if not isinstance(check, Verification):
        check = Verification(check, 0.0)
    samples = sigs.column("shingles") if "shingles" in sigs.column_names else None
    return checked_similarity(
        pairs, check, lambda p: signature_similarity(fixed_matrix(sigs.column("sig"), sigs.num_rows), p),
        lambda p: sample_similarity(samples, p, check.sample),
    )


def checked_similarity(pairs: np.ndarray, check: Verification, estimate: PairScorer, shingle_jaccard: PairScorer) -> np.ndarray:
    """Return per pair the score `check` asks for, calling `shingle_jaccard` only on the pairs that need it.

    exact: every pair's shingle Jaccard. borderline: the signature estimate, replaced by the shingle
    Jaccard where the estimate is within `check.margin` of the threshold (MinHash noise at 128
    permutations is ~0.04 at J = 0.7: those pairs are the ones it can put on the wrong side).
    """
    if len(pairs) == 0:
        return np.zeros(0, np.float64)
    if check.mode == "exact":
        return shingle_jaccard(pairs)
    est = estimate(pairs)
    if check.mode == "borderline":
        near = borderline_mask(est, check)
        if near.any():
            est[near] = shingle_jaccard(pairs[near])
    return est


def borderline_mask(estimates: np.ndarray, check: Verification) -> np.ndarray:
    """Return True where a signature estimate is too close to the threshold to decide a pair by."""
    return np.abs(estimates - check.threshold) <= check.margin


def sample_similarity(samples: pa.Array | pa.ChunkedArray | None, pairs: np.ndarray, sample: int | None) -> np.ndarray:
    """Return each (i, j) pair's Jaccard from the rows i, j of the `shingles` column (exact when both samples are whole).

    Only the rows in `pairs` are gathered, so the reduce never copies the whole column.
    """
    if samples is None:
        raise ValueError("verify=exact/borderline needs the shingles column in the signatures (computed when verifying by shingles)")
    if samples.type.value_type != pa.uint32():
        raise ValueError(f"the shingles column holds {samples.type.value_type}, not uint32 sample hashes "
                         "(signatures made before dedup_near@4): recompute them")
    if len(pairs) == 0:
        return np.zeros(0, np.float64)
    rows, local = np.unique(pairs, return_inverse=True)
    sub = samples.take(pa.array(rows))
    sub = sub.combine_chunks() if isinstance(sub, pa.ChunkedArray) else sub
    offsets = sub.offsets.to_numpy().astype(np.int64)
    return sample_jaccard(pc.list_flatten(sub).to_numpy(), offsets - offsets[0], local.reshape(pairs.shape), sample)


def sample_jaccard(values: np.ndarray, offsets: np.ndarray, pairs: np.ndarray, sample: int | None) -> np.ndarray:
    """Return the Jaccard of each (i, j) pair of ascending shingle samples values[offsets[i]:offsets[i+1]] (one compiled merge per pair)."""
    cap = _kernels()._NO_CAP if sample is None else int(sample)
    return _kernels().sample_jaccard(np.ascontiguousarray(values, np.uint32), np.ascontiguousarray(offsets, np.int64),
                                     np.ascontiguousarray(pairs, np.int64), cap)


def shingle_samples(hashes: np.ndarray, offsets: np.ndarray, sample: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Return (values, offsets): per document its `sample` smallest distinct 32-bit shingle hashes, ascending (None: all)."""
    cap = _kernels()._NO_CAP if sample is None else int(sample)
    return _kernels().shingle_samples(np.ascontiguousarray(hashes, _U64), np.ascontiguousarray(offsets, np.int64), cap)


# --- exact line / paragraph dedup across documents (CCNet style) -----------------------------


def line_keys(text: str, script: ScriptConversion) -> list[tuple[int, int]]:
    """Return (line number, 63-bit hash of the normalised line) for every non-blank line of a text."""
    out = []
    for i, line in enumerate(text.split("\n")):
        key = unicodedata.normalize("NFKC", line).casefold()
        key = "".join(ch for ch in key if not unicodedata.category(ch)[0] in "PZC" and not ch.isspace())
        if not key:
            continue
        if script != "none":
            key = convert_script_text(key, script)
        out.append((i, text_hash64(key)))
    return out


@register_op
class DedupLines(CorpusOp):
    """Remove lines repeated across documents (boilerplate), keeping each line's first occurrence."""

    name: ClassVar[str] = "dedup_lines"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "CCNet-style exact line dedup across documents; empty results are dropped"

    min_docs: int = Field(2, ge=2, description="a line is boilerplate when it occurs in at least this many documents")
    min_line_chars: int = Field(1, ge=0, description="shorter lines (after stripping) are never removed")
    keep_first: bool = Field(True, description="keep the first occurrence (by shard, row) of each repeated line")
    script: ScriptConversion = "none"

    def signatures(self, live: pa.Table, shard: int) -> pa.Table:
        ids, rows, lines, hashes = [], [], [], []
        for r, (doc_id, text) in enumerate(zip(live.column("id").to_pylist(), live.column("text").to_pylist())):
            lines_of_text = text.split("\n")
            for line_no, h in line_keys(text, self.script):
                if len(lines_of_text[line_no].strip()) < self.min_line_chars:
                    continue
                ids.append(doc_id)
                rows.append(r)
                lines.append(line_no)
                hashes.append(h)
        return pa.table(
            {
                "id": pa.array(ids, pa.string()),
                "shard": pa.array([shard] * len(ids), pa.int32()),
                "row": pa.array(rows, pa.int64()),
                "line": pa.array(lines, pa.int32()),
                "hash": pa.array(hashes, pa.int64()),
            }
        )

    def reduce(self, signatures: pa.Table) -> pa.Table:
        return reduce_lines(signatures, self.min_docs, self.keep_first)

    def apply_decisions(self, live: pa.Table, decisions: pa.Table, stats: OpStats) -> pa.Table:
        return apply_line_decisions(live, decisions, self.op_id, stats)


def reduce_lines(signatures: pa.Table, min_docs: int, keep_first: bool) -> pa.Table:
    """Return (id, remove_lines, first_of) for documents losing lines that recur in >= min_docs documents."""
    empty = pa.table({"id": pa.array([], pa.string()), "remove_lines": pa.array([], pa.list_(pa.int32()))})
    if signatures.num_rows == 0:
        return empty
    s = signatures.take(pc.sort_indices(signatures, [("hash", "ascending"), ("shard", "ascending"), ("row", "ascending"), ("line", "ascending")]))
    h = s.column("hash").to_numpy()
    doc_key = s.column("shard").to_numpy().astype(np.int64) * (1 << 40) + s.column("row").to_numpy()
    new_group = np.concatenate(([True], h[1:] != h[:-1]))
    group = np.cumsum(new_group) - 1
    new_doc = new_group | np.concatenate(([True], doc_key[1:] != doc_key[:-1]))
    docs_per_group = np.bincount(group, weights=new_doc)
    boiler = docs_per_group[group] >= min_docs
    # Keep the whole first document's copies (a line repeated inside one document is not boilerplate).
    first_doc_key = doc_key[np.flatnonzero(new_group)][group]
    remove = boiler & ~(keep_first & (doc_key == first_doc_key))
    idx = np.flatnonzero(remove)
    if len(idx) == 0:
        return empty
    t = pa.table({"id": s.column("id").take(pa.array(idx)), "line": s.column("line").take(pa.array(idx))})
    g = t.group_by("id", use_threads=False).aggregate([("line", "list")])
    return pa.table({"id": g.column("id"), "remove_lines": g.column("line_list").cast(pa.list_(pa.int32()))})


def apply_line_decisions(live: pa.Table, decisions: pa.Table, op_id: str, stats: OpStats) -> pa.Table:
    """Remove the decided lines from each document; drop documents left with no text."""
    if decisions.num_rows == 0 or live.num_rows == 0:
        return live
    pos = pc.index_in(live.column("id"), value_set=decisions.column("id")).to_pylist()
    removes = decisions.column("remove_lines").to_pylist()
    texts = live.column("text").to_pylist()
    notes: list[str | None] = []
    reasons: list[str | None] = []
    for i, p in enumerate(pos):
        if p is None:
            notes.append(None)
            reasons.append(None)
            continue
        drop = set(removes[p])
        lines = texts[i].split("\n")
        kept = [ln for k, ln in enumerate(lines) if k not in drop]
        texts[i] = "\n".join(kept).strip("\n")
        stats.add("lines_removed", len(drop))
        notes.append(f"{op_id}: removed {len(drop)} repeated line(s)")
        empty = not texts[i].strip()
        reasons.append("duplicate_lines_only" if empty else None)
        if empty:
            stats.add("dropped:duplicate_lines_only")
        else:
            stats.add("changed:lines_removed")
    live = set_column(live, "text", pa.array(texts, pa.string()))
    live = add_trace(live, notes)
    return mark_dropped(live, pa.array(reasons, pa.string()), op_id)
