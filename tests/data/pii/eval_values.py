"""Value generators for the independent PII evaluation sets (tune and held-out), written from the standards.

Nothing here imports yuliao: check digits are computed from GB 11643 (ISO 7064 MOD 11-2), GB 32100,
Luhn and the Hong Kong identity card rule, then cross-checked with python-stdnum; phone numbers
come from the allocated ranges in phonenumbers' metadata; district codes are the real GB/T 2260
codes (current and abolished) listed in stdnum's ``loc.dat`` with their years of creation, so
resident IDs include people born before their district existed (310115 浦东新区, created 1992,
with a birth year of 1985). Each split passes its own ``random.Random`` and its own ``Style`` (the
written forms it draws from), so the two sets share no value and not all of their written forms.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import re
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
import stdnum.cn
from stdnum import luhn
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc

# ------------------------------------------------------------------ districts (GB/T 2260)


@dataclass(frozen=True)
class District:
    code: str
    name: str
    start: int | None  # year the code was created (None: before the table begins)
    end: int | None  # year it was abolished (None: still in use)


def load_districts() -> list[District]:
    """Return every county-level code in stdnum's GB/T 2260 table, with its years of validity."""
    text = Path(stdnum.cn.__file__).with_name("loc.dat").read_text(encoding="utf-8")
    out: list[District] = []
    prov = None
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if not line.startswith(" "):
            prov = line.split()[0]
            continue
        code, rest = line.split(None, 1)
        if code.endswith("00"):
            continue  # province / prefecture rows, not where people are registered
        m = re.search(r'county="(?:\[(\d{4})?-(\d{4})?\])?([^"]*)"', rest)
        if m is None:
            continue
        out.append(District(prov + code, m.group(3), int(m.group(1)) if m.group(1) else None, int(m.group(2)) if m.group(2) else None))
    return out


DISTRICTS = load_districts()
PROVINCES = sorted({d.code[:2] for d in DISTRICTS})

# ------------------------------------------------------------------ check digits from the standards

_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]


def id_check_char(body17: str) -> str:
    """GB 11643 / ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS)) % 11]


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc_check_char(body17: str) -> str:
    """GB 32100 check character (weights 3^i mod 31 over the 31-character alphabet)."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS))
    return _USCC_CHARS[(31 - total % 31) % 31]


def luhn_check_digit(body: str) -> str:
    """Luhn check digit that makes body + digit valid."""
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


_HK_VAL = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ", start=10)}


def hkid_check_char(prefix: str, digits: str) -> str:
    """Hong Kong identity card check character (space=36 padding, weights 9..2, mod 11, 10 -> A)."""
    vals = ([36] if len(prefix) == 1 else []) + [_HK_VAL[c] for c in prefix] + [int(d) for d in digits]
    c = (11 - sum(v * w for v, w in zip(vals, range(9, 1, -1))) % 11) % 11
    return "A" if c == 10 else str(c)


# ------------------------------------------------------------------ written forms


@dataclass(frozen=True)
class Style:
    """The written forms a split draws from (different per split, overlapping in part)."""

    hk_forms: tuple[str, ...]
    cn_mobile_forms: tuple[str, ...]
    cn_landline_forms: tuple[str, ...]
    tw_forms: tuple[str, ...]
    mo_forms: tuple[str, ...]
    id_forms: tuple[str, ...]
    card_forms: tuple[str, ...]
    hkid_forms: tuple[str, ...]
    fullwidth_rate: float
    email_locals: tuple[str, ...]
    email_domains: tuple[str, ...]


# Forms are str.format templates over the number's parts; "FW" marks a whole value typed full-width.
TUNE_STYLE = Style(
    hk_forms=("+852 {a} {b}", "(852) {a} {b}", "{a} {b}", "+852-{a}-{b}", "852-{a}{b}", "00852 {a}{b}", "{a}-{b}", "+852{a}{b}"),
    cn_mobile_forms=("{n}", "{p} {m} {s}", "{p}-{m}-{s}", "+86 {n}", "+86-{p}-{m}-{s}", "(+86) {n}", "0086-{n}"),
    cn_landline_forms=("{area}-{local}", "({area}) {local}", "{area} {l1} {l2}", "+86 {area1} {local}", "{area}－{local}"),
    tw_forms=("{n4}-{n3}-{n3b}", "+886 {t3} {n3} {n3b}", "{n4} {n3} {n3b}", "(02) {l4}-{l4b}", "+886-2-{l4}-{l4b}"),
    mo_forms=("+853 {a} {b}", "(853) {a}{b}", "{a} {b}", "853-{a}-{b}"),
    id_forms=("{n}",),
    card_forms=("{n}", "{g4}", "{g4dash}"),
    hkid_forms=("{p}{d}({c})", "{p}{d}（{c}）", "{p} {d} ({c})"),
    fullwidth_rate=0.08,
    email_locals=("chan.taiman", "wong.kaho", "lee_siuming", "zhangwei88", "li.xiaohong", "chen_jie", "hr-recruit", "info", "service"),
    email_domains=("gmail.com", "yahoo.com.hk", "netvigator.com", "qq.com", "163.com", "cuhk.edu.hk", "pku.edu.cn", "ms45.hinet.net"),
)
DEV_STYLE = Style(
    hk_forms=("+852 {a} {b}", "(+852) {a}-{b}", "852 {a} {b}", "00852-{a}-{b}", "{a} {b}", "{a}{b}", "+852.{a}.{b}", "(852){a}{b}",
              "＋852 {a} {b}", "852-{a}-{b}"),
    cn_mobile_forms=("{n}", "{p} {m} {s}", "{p}-{m}-{s}", "+86 {p} {m} {s}", "+86{n}", "86-{n}", "{p}.{m}.{s}", "(86) {n}", "0086 {n}"),
    cn_landline_forms=("{area}-{local}", "{area}-{l1}-{l2}", "({area}){local}", "+86-{area1}-{local}", "0086 {area1} {local}",
                       "{area} {local}"),
    tw_forms=("{n4}-{n3}-{n3b}", "{n4}{n3}{n3b}", "+886-{t3}-{n3}-{n3b}", "+886 2 {l4} {l4b}", "(02){l4}-{l4b}", "886-{t3}{n3}{n3b}"),
    mo_forms=("+853 {a} {b}", "(+853) {a}-{b}", "{a}-{b}", "00853 {a}{b}"),
    id_forms=("{n}", "{n}", "{g6} {g8} {g4}"),
    card_forms=("{n}", "{g4}", "{g4dash}", "{g4}"),
    hkid_forms=("{p}{d}({c})", "{p}{d}（{c}）", "{p}{d}{c}"),
    fullwidth_rate=0.1,
    email_locals=("enquiry", "admin", "tsang.wingyan", "marketing.hk", "yu.yating", "linjunjie1990", "kf", "xiaoming.wang+news", "S.Lau",
                  "Mei-Ling.Ho", "sales_cn"),
    email_domains=("126.com", "sina.com", "outlook.com", "hotmail.com", "polyu.edu.hk", "company.com.tw", "foxmail.com", "aliyun.com",
                   "hkbn.net", "mail.sysu.edu.cn", "yahoo.com.tw"),
)

# Style of the second held-out split, now DEV2 (see eval_templates.DEV2).
DEV2_STYLE = Style(
    hk_forms=("+852 {a} {b}", "+852-{a} {b}", "(852) {a}-{b}", "852 {a}{b}", "+(852) {a} {b}", "{a} {b}", "{a}-{b}", "{a}{b}",
              "+852 {a}{b}", "+852{a}{b}"),
    cn_mobile_forms=("{n}", "{p} {m} {s}", "{p}-{m}-{s}", "+86 {p} {m} {s}", "+86-{p}-{m}-{s}", "+86 {n}", "(+86){p}-{m}-{s}",
                     "86 {n}", "0086-{p}-{m}-{s}"),
    cn_landline_forms=("{area}-{local}", "({area}) {l1} {l2}", "+86 ({area1}) {l1} {l2}", "+86 {area1} {l1} {l2}", "{area} {l1} {l2}",
                       "({area}){local}"),
    tw_forms=("{n4}-{n3}-{n3b}", "{n4}{n3}{n3b}", "+886 {t3} {n3} {n3b}", "+886-{t3}-{n3}{n3b}", "(02){l4}-{l4b}", "02-{l4}-{l4b}",
              "+886 2 {l4} {l4b}", "(+886) 2-{l4}-{l4b}"),
    mo_forms=("+853 {a} {b}", "(853) {a}-{b}", "853 {a} {b}", "{a} {b}"),
    id_forms=("{n}", "{n}", "{n_lower}", "{g6} {g8} {g4}"),
    card_forms=("{n}", "{g4}", "{g4dash}"),
    hkid_forms=("{p}{d}({c})", "{p}{d}（{c}）", "{p}{d}{c}", "{p} {d}({c})"),
    fullwidth_rate=0.1,
    email_locals=("wingkei.lam", "yan_zi", "tony.cheung", "jobs", "contact-us", "a.ng", "qian.li2001", "office", "pr_team", "m.zhou"),
    email_domains=("live.com", "icloud.com", "139.com", "sohu.com", "ust.hk", "gov.hk", "ntu.edu.tw", "tom.com", "yeah.net", "pccw.com"),
)

# Style of the third held-out split, now DEV3 (see eval_templates.DEV3).
DEV3_STYLE = Style(
    hk_forms=("+852 {a} {b}", "+852-{a}-{b}", "(852) {a} {b}", "852 {a} {b}", "{a} {b}", "{a}-{b}", "{a}{b}", "+852{a}{b}", "00852 {a} {b}",
              "(+852) {a}{b}"),
    cn_mobile_forms=("{n}", "{p} {m} {s}", "{p}-{m}-{s}", "+86 {n}", "+86 {p} {m} {s}", "+86-{n}", "86-{p}-{m}-{s}", "(86){n}", "+86{n}"),
    cn_landline_forms=("{area}-{local}", "{area} {local}", "({area}) {local}", "+86 {area1} {local}", "+86-{area1}-{l1}-{l2}", "{area}-{l1} {l2}"),
    tw_forms=("{n4}-{n3}-{n3b}", "{n4} {n3} {n3b}", "{n4}{n3}{n3b}", "+886 {t3}-{n3}-{n3b}", "+886 2 {l4}-{l4b}", "(02) {l4} {l4b}", "02 {l4}{l4b}"),
    mo_forms=("+853 {a} {b}", "(853) {a} {b}", "{a} {b}", "+853-{a}{b}"),
    id_forms=("{n}", "{n}", "{n}", "{n_lower}", "{g6} {g8} {g4}"),
    card_forms=("{n}", "{g4}", "{g4dash}", "{g4}"),
    hkid_forms=("{p}{d}({c})", "{p}{d}（{c}）", "{p}{d}{c}", "{p}{d} ({c})"),
    fullwidth_rate=0.1,
    email_locals=("chris.ip", "kaman_lo", "zhou.xun", "support-cn", "billing", "w.y.chan", "lixiaolong88", "press", "hello", "fiona+hk"),
    email_domains=("protonmail.com", "me.com", "21cn.com", "vip.qq.com", "connect.hku.hk", "seed.net.tw", "gmail.com", "263.net",
                   "hkbu.edu.hk", "zju.edu.cn"),
)

# Style of the fourth held-out split, now DEV4 (see eval_templates.DEV4).
DEV4_STYLE = Style(
    hk_forms=("+852 {a} {b}", "(852) {a} {b}", "852-{a}-{b}", "{a} {b}", "{a}{b}", "{a}-{b}", "+852 {a}-{b}", "+852-{a}{b}", "(+852) {a} {b}"),
    cn_mobile_forms=("{n}", "{p} {m} {s}", "{p}-{m}-{s}", "+86 {n}", "+86 {p}-{m}-{s}", "(+86) {p} {m} {s}", "86-{n}", "+86-{n}"),
    cn_landline_forms=("{area}-{local}", "({area}) {local}", "{area}-{l1}-{l2}", "+86 {area1} {local}", "+86-{area1}-{local}", "{area}{local}"),
    tw_forms=("{n4}-{n3}-{n3b}", "{n4} {n3} {n3b}", "{n4}{n3}{n3b}", "+886 {t3} {n3} {n3b}", "+886-{t3}-{n3}-{n3b}", "(02) {l4}-{l4b}",
              "02-{l4}{l4b}", "+886-2-{l4}{l4b}"),
    mo_forms=("+853 {a} {b}", "(853) {a} {b}", "{a} {b}", "{a}{b}", "853-{a}{b}"),
    id_forms=("{n}", "{n}", "{n_lower}", "{g6} {g8} {g4}"),
    card_forms=("{n}", "{g4}", "{g4dash}"),
    hkid_forms=("{p}{d}({c})", "{p}{d}（{c}）", "{p}{d}{c}", "{p}{d} ({c})"),
    fullwidth_rate=0.1,
    email_locals=("ivy.tam", "kwan_hy", "songjia", "recruit.hk", "noreply", "d.leung", "wanglei2008", "orders", "team", "joyce+shop"),
    email_domains=("ymail.com", "msn.com", "sogou.com", "netease.com", "edu.hk", "cityu.edu.hk", "ntnu.edu.tw", "gmail.com", "139.com",
                   "126.com"),
)

# Style of the reported held-out split (see eval_templates.HELDOUT), written after the last detector change.
HELDOUT_STYLE = Style(
    hk_forms=("+852 {a} {b}", "+852-{a}-{b}", "(852) {a} {b}", "852 {a} {b}", "{a} {b}", "{a}{b}", "{a}-{b}", "+852 {a}{b}", "(+852){a}{b}",
              "00852 {a} {b}"),
    cn_mobile_forms=("{n}", "{p} {m} {s}", "{p}-{m}-{s}", "+86 {n}", "+86 {p} {m} {s}", "+86-{p}-{m}-{s}", "(+86){n}", "86 {n}", "0086 {n}"),
    cn_landline_forms=("{area}-{local}", "({area}) {local}", "{area} {local}", "{area}-{l1} {l2}", "+86 {area1} {local}", "+86-{area1}-{local}"),
    tw_forms=("{n4}-{n3}-{n3b}", "{n4} {n3} {n3b}", "{n4}{n3}{n3b}", "+886 {t3} {n3} {n3b}", "+886-{t3}-{n3}-{n3b}", "(02) {l4}-{l4b}",
              "02-{l4}-{l4b}", "+886 2 {l4} {l4b}"),
    mo_forms=("+853 {a} {b}", "(853) {a} {b}", "{a} {b}", "{a}{b}", "+853-{a}-{b}"),
    id_forms=("{n}", "{n}", "{n}", "{n_lower}", "{g6} {g8} {g4}"),
    card_forms=("{n}", "{g4}", "{g4dash}", "{n}"),
    hkid_forms=("{p}{d}({c})", "{p}{d}（{c}）", "{p}{d}{c}"),
    fullwidth_rate=0.1,
    email_locals=("h.y.wong", "mak_ching", "feng.yu", "careers", "webmaster", "K.Tsang", "liming1985", "bookings", "sales.tw", "zoe+news"),
    email_domains=("hotmail.com.hk", "yahoo.com", "qq.com", "sina.cn", "eduhk.hk", "ln.edu.hk", "nccu.edu.tw", "googlemail.com", "189.cn",
                   "mail.ru"),
)

_TO_FW = {c: c + 0xFEE0 for c in range(0x21, 0x7F)} | {0x20: 0x3000}


def to_fullwidth(s: str) -> str:
    """Return `s` typed with full-width ASCII (as phones' Chinese input methods produce)."""
    return s.translate(_TO_FW)


def maybe_fullwidth(r: random.Random, s: str, style: Style) -> str:
    return to_fullwidth(s) if r.random() < style.fullwidth_rate else s


def _valid(number: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


def _region_number(r: random.Random, region: str, first: str, length: int) -> str:
    """Return a national number of `region` from its allocated ranges (phonenumbers metadata)."""
    while True:
        n = r.choice(first) + "".join(r.choice("0123456789") for _ in range(length - 1))
        if _valid(n, region):
            return n


# ------------------------------------------------------------------ PII generators: (value, subkind)


def gen_id18(r: random.Random, style: Style, before_creation: float = 0.5) -> tuple[str, str]:
    """18-digit resident ID from a real district of a uniformly chosen province; often born before the district existed."""
    prov = r.choice(PROVINCES)
    d = r.choice([x for x in DISTRICTS if x.code.startswith(prov)])
    lo, hi = 1930, 2012
    if d.start and d.start > 1935 and r.random() < before_creation:
        hi = d.start - 1
    elif d.start:
        lo = max(lo, d.start)
    if d.end:
        hi = min(hi, d.end)
    lo = min(lo, hi)
    birth = dt.date(r.randint(lo, hi), 1, 1) + dt.timedelta(days=r.randint(0, 364))
    body = f"{d.code}{birth:%Y%m%d}{r.randint(0, 999):03d}"
    n = body + id_check_char(body)
    assert stdnum_ric.calc_check_digit(n) == n[-1]
    form = r.choice(style.id_forms)
    value = form.format(n=n, n_lower=n.lower(), g6=n[:6], g8=n[6:14], g4=n[14:])
    kind = "id18_before_district" if d.start and birth.year < d.start else "id18"
    return maybe_fullwidth(r, value, style), kind


def gen_id15(r: random.Random, style: Style) -> tuple[str, str]:
    """15-digit first-generation ID (issued 1984-2004): district, YYMMDD, 3-digit sequence, no check digit."""
    d = r.choice([x for x in DISTRICTS if x.start is None or x.start <= 1999])
    birth = dt.date(r.randint(1925, 1986), 1, 1) + dt.timedelta(days=r.randint(0, 364))
    return f"{d.code}{birth:%y%m%d}{r.randint(0, 999):03d}", "id15"


def gen_phone_hk(r: random.Random, style: Style) -> tuple[str, str]:
    n = _region_number(r, "HK", "235679", 8)
    return maybe_fullwidth(r, r.choice(style.hk_forms).format(a=n[:4], b=n[4:]), style), "hk"


def gen_phone_mo(r: random.Random, style: Style) -> tuple[str, str]:
    n = _region_number(r, "MO", "62", 8)
    return r.choice(style.mo_forms).format(a=n[:4], b=n[4:]), "mo"


def gen_phone_cn_mobile(r: random.Random, style: Style) -> tuple[str, str]:
    n = _region_number(r, "CN", "1", 11)
    while not re.match(r"1[3-9]", n):
        n = _region_number(r, "CN", "1", 11)
    value = r.choice(style.cn_mobile_forms).format(n=n, n9=n[2:], p=n[:3], m=n[3:7], s=n[7:])
    return maybe_fullwidth(r, value, style), "cn_mobile"


_AREAS = ["010", "020", "021", "022", "023", "024", "025", "027", "028", "029", "0311", "0351", "0371", "0431", "0451", "0471", "0531",
          "0551", "0571", "0591", "0731", "0755", "0757", "0760", "0769", "0791", "0851", "0871", "0898", "0931", "0991"]


def gen_phone_cn_landline(r: random.Random, style: Style) -> tuple[str, str]:
    while True:
        area = r.choice(_AREAS)
        local = str(r.randint(2, 8)) + "".join(r.choice("0123456789") for _ in range(7 if len(area) == 3 else r.choice([6, 7])))
        if _valid(area + local, "CN"):
            break
    half = len(local) // 2
    value = r.choice(style.cn_landline_forms).format(area=area, area1=area[1:], local=local, l1=local[:half], l2=local[half:])
    return value, "cn_landline"


def gen_phone_tw(r: random.Random, style: Style) -> tuple[str, str]:
    mobile = _region_number(r, "TW", "9", 9)
    fixed = "2" + _region_number(r, "TW", "2", 9)[1:]
    while not _valid(fixed, "TW"):
        fixed = "2" + "".join(r.choice("0123456789") for _ in range(8))
    n = "0" + mobile
    form = r.choice(style.tw_forms)
    value = form.format(n4=n[:4], n3=n[4:7], n3b=n[7:], t3=mobile[:3], l4=fixed[1:5], l4b=fixed[5:])
    return value, "tw_landline" if "l4" in form else "tw_mobile"


def gen_email(r: random.Random, style: Style) -> tuple[str, str]:
    local = r.choice(style.email_locals) + (str(r.randint(1, 999)) if r.random() < 0.3 else "")
    return f"{local}@{r.choice(style.email_domains)}", "email"


_CARD_BINS = ["622202", "622848", "621700", "622588", "621226", "625955", "623668", "622609", "6259", "4392", "4563", "5187", "5520",
              "3568", "6011", "9559"]


def gen_card(r: random.Random, style: Style) -> tuple[str, str]:
    b = r.choice(_CARD_BINS)
    length = 19 if b.startswith("62") and r.random() < 0.4 else 16
    body = b + "".join(r.choice("0123456789") for _ in range(length - len(b) - 1))
    n = body + luhn_check_digit(body)
    assert luhn.is_valid(n)
    form = r.choice(style.card_forms)
    value = form.format(n=n, g4=" ".join(n[i:i + 4] for i in range(0, len(n), 4)), g4dash="-".join(n[i:i + 4] for i in range(0, len(n), 4)))
    return maybe_fullwidth(r, value, style), "card"


def gen_uscc(r: random.Random, style: Style) -> tuple[str, str]:
    d = r.choice([x for x in DISTRICTS if x.end is None])
    authority, kind = r.choice([("9", "1"), ("9", "2"), ("9", "3"), ("1", "1"), ("5", "1"), ("5", "2"), ("Y", "1"), ("N", "2"), ("N", "3")])
    org = "".join(r.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    body = authority + kind + d.code + org + r.choice("0123456789X")[0]
    body = body.replace("X", "0")
    n = body + uscc_check_char(body)
    # stdnum's validate() wants 8 leading digits, but GB 32100 also has authorities N (agriculture) and Y (other).
    assert stdnum_uscc.calc_check_digit(n) == n[-1], n
    return n, "uscc"


def gen_hkid(r: random.Random, style: Style) -> tuple[str, str]:
    p = r.choice("ACDEGHKPRVYZ") if r.random() < 0.9 else r.choice(["XA", "WX", "XD"])
    d = "".join(r.choice("0123456789") for _ in range(6))
    c = hkid_check_char(p, d)
    form = r.choice(style.hkid_forms)
    return form.format(p=p, d=d, c=c), "hkid_bracket" if "(" in form or "（" in form else "hkid_plain"


def gen_ipv4(r: random.Random, style: Style) -> tuple[str, str]:
    while True:
        a = ipaddress.IPv4Address(r.getrandbits(32))
        if not (a.is_multicast or a.is_reserved or a.is_unspecified or a.is_loopback or str(a).startswith("0.")):
            return str(a), "ipv4"


def gen_ipv6(r: random.Random, style: Style) -> tuple[str, str]:
    prefix = r.choice([0x2001_0DB8, 0x2408_8000, 0x240E_0000, 0x2400_CB00])
    a = ipaddress.IPv6Address((prefix << 96) | r.getrandbits(64) | (r.getrandbits(16) << 64))
    return (a.compressed if r.random() < 0.8 else a.exploded), "ipv6"


def gen_passport(r: random.Random, style: Style) -> tuple[str, str]:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return r.choice([f"E{r.randint(10000000, 99999999)}", f"E{r.choice(letters)}{r.randint(1000000, 9999999)}",
                     f"K{r.randint(10000000, 99999999)}", f"H{r.randint(10000000, 99999999)}", f"C{r.choice(letters)}{r.randint(1000000, 9999999)}"]), "passport"


def gen_mo_id(r: random.Random, style: Style) -> tuple[str, str]:
    first, body, check = r.choice("1578"), f"{r.randint(0, 999999):06d}", str(r.randint(0, 9))
    return r.choice([f"{first}{body}({check})", f"{first}/{body}/{check}", f"{first}{body}（{check}）"]), "mo_id"


_PLATE_PROV = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def gen_plate(r: random.Random, style: Style) -> tuple[str, str]:
    p, l = r.choice(_PLATE_PROV), r.choice(_PLATE_LETTERS[:12])
    k = r.random()
    if k < 0.6:
        serial = list(f"{r.randint(0, 99999):05d}")
        for i in r.sample(range(5), r.randint(0, 2)):
            serial[i] = r.choice(_PLATE_LETTERS)
        serial = "".join(serial)
    elif k < 0.85:
        serial = r.choice("DF") + f"{r.randint(0, 99999):05d}"
    else:
        serial = f"{r.randint(0, 9999):04d}学" if r.random() < 0.5 else f"{r.randint(0, 9999):04d}挂"
    return p + l + r.choice(["", "", "·", " "]) + serial, "plate"


PII_GENERATORS = {
    "ID_CARD": [(gen_id18, 5), (gen_id15, 1)],
    "PHONE": [(gen_phone_hk, 4), (gen_phone_cn_mobile, 3), (gen_phone_cn_landline, 2), (gen_phone_tw, 2), (gen_phone_mo, 2)],
    "EMAIL": [(gen_email, 1)],
    "BANK_CARD": [(gen_card, 1)],
    "USCC": [(gen_uscc, 1)],
    "HK_ID": [(gen_hkid, 1)],
    "IP": [(gen_ipv4, 3), (gen_ipv6, 1)],
    "PASSPORT": [(gen_passport, 1)],
    "MO_ID": [(gen_mo_id, 1)],
    "PLATE": [(gen_plate, 1)],
}

# ------------------------------------------------------------------ look-alikes: (value, kind); none is PII


def la_version(r: random.Random) -> str:
    return f"{r.randint(1, 16)}.{r.randint(0, 20)}.{r.randint(0, 250)}.{r.randint(0, 255)}"


def la_section(r: random.Random) -> str:
    return ".".join(str(r.randint(1, 12)) for _ in range(r.choice([3, 4, 4])))


def la_order(r: random.Random) -> str:
    day = dt.date(2019, 1, 1) + dt.timedelta(days=r.randint(0, 2400))
    return r.choice([
        f"{day:%Y%m%d}" + "".join(r.choice("0123456789") for _ in range(r.choice([8, 10, 12, 20]))),
        r.choice("1234") + "".join(r.choice("0123456789") for _ in range(r.choice([17, 18]))),
        f"{day:%y%m%d}-" + "".join(r.choice("0123456789") for _ in range(15)),
        "".join(r.choice("0123456789") for _ in range(12)),
    ])


def la_id_bad_check(r: random.Random, style: Style) -> str:
    n = re.sub(r"\D", "", to_halfwidth(gen_id18(r, style)[0]))[:17]
    good = id_check_char(n)
    return n + r.choice([c for c in "0123456789X" if c != good])


def la_id_bad_date(r: random.Random) -> str:
    d = r.choice(DISTRICTS).code
    y = r.randint(1950, 2005)
    mmdd = r.choice(["0230", "0231", "0431", "1131", "1301", "0001", "0100", "1532", "0632"])
    body = f"{d}{y}{mmdd}{r.randint(0, 999):03d}"
    return body + id_check_char(body)


def la_card_bad_luhn(r: random.Random, style: Style) -> str:
    n = re.sub(r"\D", "", to_halfwidth(gen_card(r, style)[0]))
    return n[:-1] + r.choice([c for c in "0123456789" if c != n[-1]])


def la_uscc_bad(r: random.Random, style: Style) -> str:
    n = gen_uscc(r, style)[0]
    return n[:-1] + r.choice([c for c in _USCC_CHARS if c != n[-1]])


def la_hkid_bad(r: random.Random) -> str:
    p = r.choice("ACDEGHKPRVYZ")
    d = "".join(r.choice("0123456789") for _ in range(6))
    c = hkid_check_char(p, d)
    return f"{p}{d}({r.choice([x for x in '0123456789A' if x != c])})"


def la_isbn(r: random.Random) -> str:
    body = "9787" + "".join(r.choice("0123456789") for _ in range(8))
    check = str((10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10)
    return r.choice([body + check, f"978-7-{body[4:7]}-{body[7:12]}-{check}", f"978-7-{body[4:8]}-{body[8:12]}-{check}"])


def la_timestamp(r: random.Random) -> str:
    ts = r.randint(1_400_000_000, 1_800_000_000)
    t = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    return r.choice([str(ts), f"{ts}{r.randint(0, 999):03d}", f"{t:%Y-%m-%d %H:%M:%S}", f"{t:%Y%m%d%H%M%S}", f"{t:%Y-%m-%dT%H:%M:%S}+08:00",
                     f"{t:%Y.%m.%d %H:%M}", f"{t:%Y/%m/%d}"])


def la_amount(r: random.Random) -> str:
    v = r.randint(10_000, 99_999_999)
    return r.choice([f"HK${v:,}", f"¥{v:,}.00", f"{v}元", f"US$ {v / 100:,.2f}", f"{v:,}", f"人民币{v}元", f"NT${v:,}", f"{v / 10000:.1f}万"])


def la_coordinate(r: random.Random) -> str:
    lat, lon = r.uniform(18, 45), r.uniform(98, 125)
    return r.choice([f"{lat:.4f}, {lon:.4f}", f"{lat:.6f},{lon:.6f}", f"N{lat:.5f} E{lon:.5f}", f"({lat:.3f}, {lon:.3f})"])


def la_phone_bad(r: random.Random) -> str:
    """Numbers written like phones but outside any allocated range or of the wrong length."""
    while True:
        s = r.choice([
            f"1{r.randint(0, 9)}{r.randint(0, 9)}{r.randint(0, 9)} {r.randint(1000, 9999)}",  # HK/MO numbers never start with 1
            f"+852 1{r.randint(100, 999)} {r.randint(1000, 9999)}",
            f"1{r.choice('012')}{r.randint(100000000, 999999999)}",  # 11 digits outside mainland mobile ranges
            f"0{r.randint(10, 99)}-{r.randint(100, 999)}",  # too short for a landline
            f"+86 1{r.choice('3589')}{r.randint(10000000, 99999999)}",  # 10-digit mobile
        ])
        digits = re.sub(r"\D", "", s)
        if not any(_valid(s if s.startswith("+") else digits, reg) for reg in ("CN", "HK", "MO", "TW")):
            return s


def la_tracking(r: random.Random) -> str:
    return r.choice(["SF", "JD", "YT", "JT"]) + "".join(r.choice("0123456789") for _ in range(r.choice([12, 13, 15]))) if r.random() < 0.6 \
        else r.choice(["7", "4", "2"]) + "".join(r.choice("0123456789") for _ in range(r.choice([12, 13, 14])))


def la_stock(r: random.Random) -> str:
    return r.choice([f"{r.randint(600000, 605999)}", f"00{r.randint(1000, 3999)}.HK", f"{r.randint(0, 9999):04d}.HK", f"sz{r.randint(0, 3999):06d}"])


def la_invoice(r: random.Random) -> str:
    return r.choice([f"{r.randint(0, 99999999):08d}", f"0{r.randint(10 ** 10, 10 ** 11 - 1)}", f"{r.randint(10 ** 19, 10 ** 20 - 1)}"])


def to_halfwidth(s: str) -> str:
    """Inverse of to_fullwidth (generators re-use PII values to derive look-alikes)."""
    return s.translate({v: k for k, v in _TO_FW.items()})
