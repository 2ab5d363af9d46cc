"""Build the PII test set: valid PII values and hard negatives embedded in real sentences.

Deterministic (fixed seed, sorted inputs): rerunning it over the same ../shared corpora
reproduces ``pii_testset.jsonl`` byte for byte, so CI uses the committed file and never depends
on randomness. Ground truth comes from the standards, checked with the reference libraries
(python-stdnum, phonenumbers, ipaddress), never from yuliao's detector.

Usage: .venv/bin/python tests/data/pii/make_pii_testset.py [--shared ../shared] [--out tests/data/pii/pii_testset.jsonl]

Each JSONL record: ``id``, ``kind`` (positive | negative), ``lang``, ``base`` (corpus file and line
of the carrier sentence), ``text``, ``spans`` (the PII: type, start, end, value; code-point
offsets) and for negatives ``negative_kind`` (what look-alike it carries) and ``decoy`` (its value).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import re
from pathlib import Path

import phonenumbers
import stdnum.cn
from stdnum import luhn
from stdnum.cn import ric, uscc

SEED = 20261126
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

# ------------------------------------------------------------------ carrier sentences


def load_sentences(shared: Path) -> dict[str, list[tuple[str, str]]]:
    """Return (locator, sentence) lists per language from ../shared/corpora, without digit runs or '@'."""
    corpora = shared / "corpora"
    out: dict[str, list[tuple[str, str]]] = {"zh": [], "en": [], "yue": []}
    for lang in ("zh", "en"):
        path = corpora / "lingua-sentences" / f"{lang}.txt"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            out[lang].append((f"lingua-sentences/{lang}.txt:{n}", line.strip()))
    sents = json.loads((corpora / "cantonese-common-voice" / "sents.json").read_text(encoding="utf-8"))
    out["yue"] = [(f"cantonese-common-voice/sents.json:{i}", s.strip()) for i, s in enumerate(sents)]
    clean = re.compile(r"^[^@:：]*$")
    for lang in out:
        out[lang] = [(loc, s) for loc, s in out[lang] if 8 <= len(s) <= 160 and clean.match(s) and not re.search(r"\d{4}", s)]
    return out


# ------------------------------------------------------------------ value generators

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def region_codes() -> list[str]:
    """Return the current six-digit administrative division codes of stdnum's GB/T 2260 table."""
    loc = Path(stdnum.cn.__file__).with_name("loc.dat").read_text(encoding="utf-8")
    codes, prov = [], None
    for line in loc.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if not line.startswith(" "):
            prov = line.split()[0]
        elif prov and "[" not in line and not line.strip().split()[0].endswith("00"):
            codes.append(prov + line.split()[0])
    return sorted(codes)


REGIONS = region_codes()


def gen_id18(r: random.Random) -> str:
    while True:
        body = f"{r.choice(REGIONS)}{r.randint(1950, 2006)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 999):03d}"
        n = body + ric.calc_check_digit(body + "0")
        if ric.is_valid(n):
            return n


def gen_id15(r: random.Random) -> str:
    while True:
        n = f"{r.choice(REGIONS)}{r.randint(50, 84):02d}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 999):03d}"
        if ric.is_valid(n[:6] + "19" + n[6:] + ric.calc_check_digit(n[:6] + "19" + n[6:] + "0")):
            return n


def gen_uscc(r: random.Random) -> str:
    while True:
        org = "".join(r.choice(_USCC_ALPHABET) for _ in range(9))
        body = r.choice("159") + r.choice("123") + r.choice(REGIONS) + org
        n = body + uscc.calc_check_digit(body)
        if uscc.is_valid(n) and not ric.is_valid(n) and not re.fullmatch(r"\d{17}[\dX]", n):
            return n


_CARD_PREFIXES = ["6222", "6228", "6217", "6212", "6214", "6226", "6259", "4367", "4033", "5187", "5309", "9559", "6013"]


def gen_card(r: random.Random) -> str:
    pre = r.choice(_CARD_PREFIXES)
    length = r.choice([16, 16, 19])
    body = pre + "".join(str(r.randint(0, 9)) for _ in range(length - len(pre) - 1))
    n = body + luhn.calc_check_digit(body)
    style = r.randint(0, 2)
    if style == 0:
        return n
    sep = " " if style == 1 else "-"
    return sep.join(n[i:i + 4] for i in range(0, len(n), 4))


def _valid_phone(s: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(s, region))
    except phonenumbers.NumberParseException:
        return False


def gen_phone(r: random.Random) -> tuple[str, str]:
    """Return (phone, kind) where kind says whether it needs a context word (hk/mo bare numbers)."""
    kind = r.choice(["cn_mobile"] * 4 + ["cn_landline"] * 2 + ["hk_intl", "hk_bare", "mo_intl", "mo_bare", "tw", "tw_intl", "intl", "intl"])
    while True:
        if kind == "cn_mobile":
            n = r.choice(["13", "15", "18", "17", "19"]) + str(r.randint(0, 9)) + f"{r.randint(0, 99999999):08d}"
            if not _valid_phone(n, "CN"):
                continue
            fmt = r.randint(0, 4)
            s = [n, f"{n[:3]}-{n[3:7]}-{n[7:]}", f"{n[:3]} {n[3:7]} {n[7:]}", f"+86 {n[:3]} {n[3:7]} {n[7:]}", f"+86-{n}"][fmt]
        elif kind == "cn_landline":
            area = r.choice(["010", "020", "021", "0755", "0769", "0757", "0571", "028", "0760", "0756"])
            local = str(r.randint(2, 8)) + f"{r.randint(0, 9999999):07d}"
            n = area + local
            if not _valid_phone(n, "CN"):
                continue
            s = r.choice([f"{area}-{local}", f"({area}) {local}", f"{area} {local}", f"+86 {area[1:]} {local}"])
        elif kind in ("hk_intl", "hk_bare"):
            n = r.choice("2359") + f"{r.randint(0, 9999999):07d}"
            if not _valid_phone(n, "HK"):
                continue
            s = f"+852 {n[:4]} {n[4:]}" if kind == "hk_intl" else r.choice([f"{n[:4]} {n[4:]}", n])
        elif kind in ("mo_intl", "mo_bare"):
            n = r.choice(["66", "62", "28"]) + f"{r.randint(0, 999999):06d}"
            if not _valid_phone(n, "MO"):
                continue
            s = f"+853 {n[:4]} {n[4:]}" if kind == "mo_intl" else r.choice([f"{n[:4]} {n[4:]}", n])
        elif kind in ("tw", "tw_intl"):
            n = "09" + f"{r.randint(0, 99999999):08d}"
            if not _valid_phone(n, "TW"):
                continue
            s = f"{n[:4]}-{n[4:7]}-{n[7:]}" if kind == "tw" else f"+886 {n[1:4]} {n[4:7]} {n[7:]}"
        else:
            s = r.choice([
                f"+1 ({r.choice(['212', '415', '646', '617'])}) {r.randint(200, 989)}-{r.randint(0, 9999):04d}",
                f"+44 20 {r.randint(7000, 8999)} {r.randint(0, 9999):04d}",
                f"+81 3-{r.randint(1000, 9999)}-{r.randint(0, 9999):04d}",
                f"+65 6{r.randint(0, 999):03d} {r.randint(0, 9999):04d}",
                f"+49 30 {r.randint(10000000, 99999999)}",
            ])
            if not _valid_phone(s, None):
                continue
        return s, kind


_NAMES = ["zhangwei", "li.na", "wang_fang", "chen.jing", "liuyang", "huang.min", "zhao.lei", "wu.xiaoming", "mary.chan",
          "kwok.ka.ming", "peter.lee", "j.smith", "anna", "tony.wong", "ho.siu.fung", "support", "hr", "lin.yating"]
_DOMAINS = ["163.com", "qq.com", "126.com", "gmail.com", "outlook.com", "sina.com.cn", "example.com.hk", "mail.ustc.edu.cn",
            "yahoo.com.tw", "company.org", "hku.hk", "foxmail.com"]


def gen_email(r: random.Random) -> str:
    name = r.choice(_NAMES) + (str(r.randint(1, 9999)) if r.random() < 0.5 else "")
    return f"{name}@{r.choice(_DOMAINS)}"


def gen_passport(r: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return r.choice([
        f"E{r.randint(0, 99999999):08d}", f"E{r.choice(letters)}{r.randint(0, 9999999):07d}", f"G{r.randint(0, 99999999):08d}",
        f"K{r.randint(0, 99999999):08d}", f"C{r.randint(0, 99999999):08d}", f"P{r.randint(0, 9999999):07d}",
    ])


_HK_LETTERS = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ", start=10)}


def hk_check(prefix: str, digits: str) -> str:
    """HKID check digit (weights 9..2 over [space=36] + letters + digits, mod 11)."""
    values = ([36] if len(prefix) == 1 else []) + [_HK_LETTERS[c] for c in prefix] + [int(d) for d in digits]
    check = (11 - sum(v * w for v, w in zip(values, range(9, 1, -1))) % 11) % 11
    return "A" if check == 10 else str(check)


def gen_hkid_parts(r: random.Random) -> tuple[str, str]:
    prefix = r.choice("ABCDEGHKMPRVYZ") if r.random() < 0.85 else r.choice(["XA", "XB", "WX"])
    return prefix, f"{r.randint(0, 999999):06d}"


def gen_ipv4(r: random.Random) -> str:
    return r.choice([
        f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}", f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
    ])


def gen_ipv6(r: random.Random) -> str:
    a = ipaddress.IPv6Address((0x2001 << 112) | (0xDB8 << 96) | r.getrandbits(64) if r.random() < 0.5 else (0xFE80 << 112) | r.getrandbits(64))
    return a.compressed if r.random() < 0.7 else a.exploded


_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def gen_plate(r: random.Random) -> str:
    p, l = r.choice(_PROVINCES), r.choice(_PLATE_LETTERS)
    kind = r.randint(0, 5)
    if kind <= 2:
        serial = [str(r.randint(0, 9)) for _ in range(5)]
        for i in r.sample(range(5), r.randint(0, 2)):
            serial[i] = r.choice(_PLATE_LETTERS)
        serial = "".join(serial)
    elif kind == 3:
        serial = r.choice("DF") + r.choice(_PLATE_LETTERS + "0123456789") + f"{r.randint(0, 9999):04d}"
    elif kind == 4:
        serial = f"{r.randint(0, 99999):05d}" + r.choice("DF")
    else:
        serial = f"{r.randint(0, 9999):04d}" + r.choice("学挂警")
    return p + r.choice(["", "", "·", " "]) + l + serial


# ------------------------------------------------------------------ contexts

CONTEXTS: dict[str, dict[str, list[str]]] = {
    "PHONE": {"zh": ["联系电话：", "手机号码", "请致电", "电话：", "客服热线"], "yue": ["電話：", "打呢個號碼", "WhatsApp "], "en": ["Call us on ", "Tel: ", "phone number: "]},
    "EMAIL": {"zh": ["邮箱：", "请发邮件至", "联系邮箱"], "yue": ["電郵：", "email 去"], "en": ["Email: ", "write to ", "contact "]},
    "ID_CARD": {"zh": ["身份证号：", "身份证号码为", "公民身份号码"], "yue": ["身份證號碼："], "en": ["ID number: ", "Chinese ID card no. "]},
    "USCC": {"zh": ["统一社会信用代码：", "信用代码", "社会信用代码为"], "yue": ["統一社會信用代碼："], "en": ["USCC: ", "credit code "]},
    "BANK_CARD": {"zh": ["银行卡号：", "收款账号", "卡号"], "yue": ["銀行戶口：", "卡號"], "en": ["card number: ", "Account no. "]},
    "PASSPORT": {"zh": ["护照号码：", "护照号", "往来港澳通行证号码"], "yue": ["護照號碼：", "護照"], "en": ["passport no. ", "Passport number: "]},
    "HK_ID": {"zh": ["香港身份证号码：", "香港身份证"], "yue": ["香港身份證：", "身份證號碼"], "en": ["HKID: ", "Hong Kong ID card "]},
    "MO_ID": {"zh": ["澳门身份证号码：", "澳门居民身份证"], "yue": ["澳門身份證：", "澳門居民身份證號碼"], "en": ["Macau ID: ", "Macao BIR "]},
    "IP": {"zh": ["服务器地址", "IP地址：", "来源IP"], "yue": ["IP 地址："], "en": ["from IP ", "server address "]},
    "PLATE": {"zh": ["车牌号", "车牌号码：", "一辆牌照为"], "yue": ["車牌：", "車牌號碼"], "en": ["licence plate ", "plate number "]},
}
NEEDS_CONTEXT = {"PASSPORT", "MO_ID"}


def embed(r: random.Random, sentence: str, lang: str, insert: str) -> tuple[str, int]:
    """Insert `insert` into `sentence` at a clause boundary; return the text and the insert's offset."""
    sep_zh = "，"
    if lang == "en":
        cut = [m.end() for m in re.finditer(r", ", sentence)]
        if cut and r.random() < 0.5:
            at = r.choice(cut)
            head, tail = sentence[:at], sentence[at:]
            text = f"{head}{insert}, {tail}"
            return text, len(head)
        head = sentence.rstrip(".!? ")
        text = f"{head}. {insert}."
        return text, len(head) + 2
    cut = [m.end() for m in re.finditer(r"[，。、；！？]", sentence[:-1])]
    if cut:
        at = r.choice(cut)
        head, tail = sentence[:at], sentence[at:]
        return f"{head}{insert}{sep_zh}{tail}", len(head)
    head = sentence.rstrip("。！？!?")
    return f"{head}{sep_zh}{insert}。", len(head) + 1


def value_for(r: random.Random, pii_type: str) -> tuple[str, bool]:
    """Return (value, needs_context) for one positive of `pii_type`."""
    if pii_type == "ID_CARD":
        return (gen_id18(r) if r.random() < 0.8 else gen_id15(r)), False
    if pii_type == "USCC":
        return gen_uscc(r), False
    if pii_type == "BANK_CARD":
        return gen_card(r), False
    if pii_type == "PHONE":
        s, kind = gen_phone(r)
        return s, kind.endswith("_bare")
    if pii_type == "EMAIL":
        return gen_email(r), False
    if pii_type == "PASSPORT":
        return gen_passport(r), True
    if pii_type == "HK_ID":
        prefix, digits = gen_hkid_parts(r)
        check = hk_check(prefix, digits)
        form = r.randint(0, 2)
        return [f"{prefix}{digits}({check})", f"{prefix}{digits}（{check}）", f"{prefix}{digits}{check}"][form], form == 2
    if pii_type == "MO_ID":
        first, digits, check = r.choice("1578"), f"{r.randint(0, 999999):06d}", str(r.randint(0, 9))
        if r.random() < 0.3:
            return f"{first}/{digits}/{check}", False
        return r.choice([f"{first}{digits}({check})", f"{first}{digits}（{check}）"]), True
    if pii_type == "IP":
        return (gen_ipv4(r) if r.random() < 0.7 else gen_ipv6(r)), False
    if pii_type == "PLATE":
        return gen_plate(r), False
    raise ValueError(pii_type)


POSITIVES_PER_TYPE = {"EMAIL": 110, "PHONE": 240, "ID_CARD": 150, "USCC": 100, "BANK_CARD": 120, "PASSPORT": 80,
                      "HK_ID": 90, "MO_ID": 60, "IP": 110, "PLATE": 110}


_TO_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}


def pii_insert(r: random.Random, pii_type: str, lang: str) -> tuple[str, int, str]:
    """Return (inserted text, offset of the value inside it, value); some Chinese values are typed full-width."""
    value, needs = value_for(r, pii_type)
    if lang != "en" and pii_type in ("PHONE", "ID_CARD", "BANK_CARD", "EMAIL") and r.random() < 0.08:
        value = value.translate(_TO_FULLWIDTH)
    use_ctx = needs or pii_type in NEEDS_CONTEXT or r.random() < 0.7
    ctx = r.choice(CONTEXTS[pii_type][lang]) if use_ctx else ""
    return ctx + value, len(ctx), value


# ------------------------------------------------------------------ hard negatives


def _bad_check(r: random.Random, good: str, alphabet: str) -> str:
    return r.choice([c for c in alphabet if c != good])


def negative_value(r: random.Random, kind: str) -> tuple[str, str]:
    """Return (context, decoy) for one hard-negative kind; decoys fail the standard they imitate."""
    if kind == "id_bad_check":
        n = gen_id18(r)
        return r.choice(["身份证号：", "身份證號碼：", "ID number: "]), n[:-1] + _bad_check(r, n[-1], "0123456789X")
    if kind == "id_bad_date":
        n = gen_id18(r)
        body = n[:10] + r.choice(["13", "00", "19"]) + n[12:14] + n[14:17] if r.random() < 0.5 else n[:12] + r.choice(["32", "00", "45"]) + n[14:17]
        return "身份证号码为", body + ric.calc_check_digit(body + "0")
    if kind == "uscc_bad_check":
        n = gen_uscc(r)
        return r.choice(["统一社会信用代码：", "信用代码"]), n[:-1] + _bad_check(r, n[-1], _USCC_ALPHABET)
    if kind == "card_bad_luhn":
        n = re.sub(r"\D", "", gen_card(r))
        bad = n[:-1] + _bad_check(r, n[-1], "0123456789")
        return r.choice(["银行卡号：", "卡号", "card number: "]), bad
    if kind == "order_number":
        while True:
            n = f"{r.randint(2019, 2025)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}" + "".join(str(r.randint(0, 9)) for _ in range(r.choice([8, 10, 11, 12])))
            if not luhn.is_valid(n) and not ric.is_valid(n):
                return r.choice(["订单号：", "訂單編號", "Order #", "运单号", "交易流水号"]), n
    if kind == "express_number":
        return r.choice(["快递单号：", "tracking no. "]), r.choice(["SF", "YT", "JD", "ZTO"]) + "".join(str(r.randint(0, 9)) for _ in range(13))
    if kind == "timestamp":
        ts = r.randint(1_500_000_000, 1_800_000_000)
        return r.choice(["时间戳", "timestamp ", "创建于 "]), r.choice([str(ts), str(ts) + f"{r.randint(0, 999):03d}",
                                                                  f"{r.randint(2015, 2025)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
                                                                  f"{r.randint(2015, 2025)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 23):02d}{r.randint(0, 59):02d}{r.randint(0, 59):02d}"])
    if kind == "date":
        y, m, d = r.randint(1990, 2030), r.randint(1, 12), r.randint(1, 28)
        return r.choice(["日期：", "于", "on ", "截至"]), r.choice([f"{y}-{m:02d}-{d:02d}", f"{y}/{m:02d}/{d:02d}", f"{y}年{m}月{d}日", f"{y}{m:02d}{d:02d}", f"{d:02d}.{m:02d}.{y}"])
    if kind == "price":
        return r.choice(["价格", "售价：", "总额", "price ", "HK$"]), r.choice([f"¥{r.randint(1, 99)},{r.randint(0, 999):03d}.{r.randint(0, 99):02d}", f"{r.randint(1000, 99999999)}元",
                                                                           f"${r.randint(1, 999)},{r.randint(0, 999):03d}.00", f"{r.randint(10000, 99999999)}", f"{r.randint(1, 9)},{r.randint(0, 999):03d},{r.randint(0, 999):03d}"])
    if kind == "phone_lookalike":
        while True:
            ctx, decoy = r.choice(["电话：", "编号", "Tel: ", "手机号码"]), r.choice([
            "1" + r.choice("012") + f"{r.randint(0, 999999999):09d}",  # 11 digits, no mobile range
            "1" + r.choice("3589") + f"{r.randint(0, 99999999):08d}",  # 10 digits
            "1" + r.choice("3589") + f"{r.randint(0, 9999999999):010d}",  # 12 digits
            r.choice("1478") + f"{r.randint(0, 999):03d} {r.randint(0, 9999):04d}",  # 8 digits outside HK/MO plans
            ])
            if not any(_valid_phone(decoy, region) for region in ("CN", "HK", "MO", "TW")):
                return ctx, decoy
    if kind == "hk_id_bad_check":
        prefix, digits = gen_hkid_parts(r)
        return r.choice(["香港身份證：", "HKID: "]), f"{prefix}{digits}({_bad_check(r, hk_check(prefix, digits), '0123456789A')})"
    if kind == "model_code":  # passport-shaped, but no passport word nearby
        return r.choice(["型号", "产品编号：", "part no. ", "批号"]), gen_passport(r)
    if kind == "mo_id_no_context":
        return r.choice(["第", "编号", "No. "]), f"{r.choice('1578')}{r.randint(0, 999999):06d}({r.randint(0, 9)})"
    if kind == "ip_lookalike":
        return r.choice(["版本 ", "version ", "第", "section "]), r.choice([
            f"{r.randint(256, 999)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(0, 255)}",
            f"{r.randint(1, 20)}.{r.randint(0, 9)}.{r.randint(0, 99)}", f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}",
            f"192.168.0{r.randint(1, 9)}.0{r.randint(1, 9)}"])
    if kind == "time_lookalike":
        return r.choice(["时间", "at ", "比分"]), f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
    if kind == "plate_lookalike":
        p, l = r.choice(_PROVINCES), r.choice(_PLATE_LETTERS)
        return r.choice(["车牌号", "车牌："]), r.choice([f"{p}{l}{r.randint(0, 9999):04d}", f"{p}I{r.randint(0, 99999):05d}", f"{p}{l}{r.randint(0, 999):03d}"])
    if kind == "email_lookalike":
        return r.choice(["账号", "user "]), r.choice([f"{r.choice(_NAMES)}@localhost", f"@{r.choice(_NAMES)}", f"{r.choice(_NAMES)}@163", f"a..b{r.randint(1, 99)}@qq.com"])
    raise ValueError(kind)


NEGATIVES_PER_KIND = {
    "id_bad_check": 80, "id_bad_date": 50, "uscc_bad_check": 60, "card_bad_luhn": 90, "order_number": 110, "express_number": 40,
    "timestamp": 100, "date": 100, "price": 90, "phone_lookalike": 90, "hk_id_bad_check": 60, "model_code": 50,
    "mo_id_no_context": 40, "ip_lookalike": 60, "time_lookalike": 30, "plate_lookalike": 50, "email_lookalike": 40,
}


def build(shared: Path) -> list[dict]:
    """Return the test-set records (positives then negatives), deterministically."""
    r = random.Random(SEED)
    sents = load_sentences(shared)
    langs = ["zh", "zh", "en", "yue"]
    records: list[dict] = []
    plan = [t for t, n in POSITIVES_PER_TYPE.items() for _ in range(n)]
    r.shuffle(plan)
    i = 0
    while i < len(plan):
        lang = r.choice(langs)
        base_loc, sentence = r.choice(sents[lang])
        # A fifth of the records carry two PII values (overlaps and neighbours get tested too).
        group = plan[i:i + (2 if r.random() < 0.2 else 1)]
        i += len(group)
        text, values = sentence, []
        for pii_type in group:
            insert, _, value = pii_insert(r, pii_type, lang)
            text, _ = embed(r, text, lang, insert)
            values.append((pii_type, value))
        # Offsets from the final text: carrier sentences hold no 4-digit runs or '@', so each
        # value occurs exactly once.
        fixed = []
        for pii_type, value in values:
            assert text.count(value) == 1, (text, value)
            start = text.index(value)
            fixed.append({"type": pii_type, "start": start, "end": start + len(value), "value": value})
        records.append({"id": f"pos-{len(records):05d}", "kind": "positive", "lang": lang, "base": base_loc, "text": text,
                        "spans": sorted(fixed, key=lambda s: s["start"])})
    n_pos = len(records)
    for kind, n in NEGATIVES_PER_KIND.items():
        for _ in range(n):
            lang = r.choice(langs)
            base_loc, sentence = r.choice(sents[lang])
            ctx, decoy = negative_value(r, kind)
            text, _ = embed(r, sentence, lang, ctx + decoy)
            records.append({"id": f"neg-{len(records) - n_pos:05d}", "kind": "negative", "lang": lang, "base": base_loc, "text": text,
                            "spans": [], "negative_kind": kind, "decoy": decoy})
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, default=HERE / "pii_testset.jsonl")
    args = ap.parse_args()
    records = build(args.shared)
    with args.out.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
    n_pos = sum(len(rec["spans"]) for rec in records)
    n_neg = sum(rec["kind"] == "negative" for rec in records)
    print(f"wrote {args.out}: {len(records)} records, {n_pos} PII instances, {n_neg} hard negatives")


if __name__ == "__main__":
    main()
