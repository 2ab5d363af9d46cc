"""PII detection and redaction for Chinese and English text, validated by checksums, not guessed.

Each PII type is a candidate regex plus a validator: GB 11643 resident IDs and GB 32100 unified
social credit codes via python-stdnum, phone numbers via phonenumbers, bank cards via Luhn (stdnum)
and an issuer prefix, Hong Kong ID check digits, IPs via ``ipaddress``. Types without a checksum
(passports and travel permits, Macau ID, bare 8-digit Hong Kong/Macau phone numbers) need a
context word nearby ("护照", "澳門身份證", "電話"...). Look-alikes that fail validation (order numbers,
timestamps, dates, prices) are not PII. Full-width digits (１３８…) are matched on a folded shadow
with the same offsets. ``find_pii`` is the pure ``str -> spans`` core; the
``redact_pii`` operator maps it over a batch and adds ``pii_counts``, ``sensitivity`` and
(optionally) ``pii_spans`` columns.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, NamedTuple

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from transforms.clean import map_where
from transforms.ops import Mapper, OpStats, add_trace, set_column
from transforms.registry import register_op

PII_TYPES: tuple[str, ...] = ("EMAIL", "PHONE", "ID_CARD", "USCC", "BANK_CARD", "PASSPORT", "HK_ID", "MO_ID", "IP", "PLATE")
PiiType = Literal["EMAIL", "PHONE", "ID_CARD", "USCC", "BANK_CARD", "PASSPORT", "HK_ID", "MO_ID", "IP", "PLATE"]
SensitivityLevel = Literal["none", "low", "medium", "high"]
SENSITIVITY_ORDER: tuple[str, ...] = ("none", "low", "medium", "high")
# Identity documents and payment cards identify a person directly (PIPL "sensitive personal
# information"); contact data and plates are personal; IPs and company codes are low.
DEFAULT_SENSITIVITY: dict[str, str] = {
    "ID_CARD": "high", "BANK_CARD": "high", "PASSPORT": "high", "HK_ID": "high", "MO_ID": "high",
    "PHONE": "medium", "EMAIL": "medium", "PLATE": "medium", "IP": "low", "USCC": "low",
}


class Span(NamedTuple):
    """One detected PII value: type and [start, end) code-point offsets in the text."""

    type: str
    start: int
    end: int


# Python `\w` includes CJK, so boundaries name ASCII alphanumerics explicitly: "电话13812345678"
# must match, "ab13812345678" must not.
_B = r"(?<![0-9A-Za-z])"
_E = r"(?![0-9A-Za-z])"
_CONTEXT_WINDOW = 24

PHONE_CONTEXT = re.compile(
    r"电话|電話|手机|手機|致电|致電|热线|熱線|专线|專線|联系|聯繫|聯絡|联络|号码|號碼|传真|傳真|来电|來電|查询|查詢|咨询|諮詢|预约|預約|"
    r"订座|訂座|订位|訂位|微信|打俾|打畀|打给|打給|打我|請電|请电|電洽|电洽|電：|电：|收货人|收貨人|收件人|联系人|聯絡人|☎|☏|📞|📱|"
    r"(?i:tel|phone|call|whatsapp|wechat|signal|sms|text me|ring|mobile|fax|contact|hotline|enquir|inquir|reservation|dial|\bmob\b|\bph\b|\b[TM]\s*[:：])"
)
PASSPORT_CONTEXT = re.compile(r"护照|護照|通行证|通行證|旅行证|旅行證|(?i:passport|travel document)")
HK_ID_CONTEXT = re.compile(r"身份证|身份證|身分證|证件|證件|(?i:hkid|hkic|hong kong id|identity card|id card|id no)")
MO_ID_CONTEXT = re.compile(r"澳门|澳門|身份证|身份證|身分證|(?i:macau|macao|bir\b|identity card|id card)")
# Dotted numbers next to these words are versions or section numbers, not addresses, whichever
# side the word stands on: "版本 10.3.45.123", "build 7.12.88.201", "v10.3.45.123", "10.3.45.123版本", "第1.2.3.4节".
_VERSION_WORDS = r"版本号|版本號|版本|版|固件|韌體|系统|系統|(?i:version|ver|v|build|release|rev|firmware|update to|upgrade to)"
_SECTION_WORDS = r"第|条|條|款|章|节|節|小节|小節|附件|附录|附錄|§|(?i:section|sec|clause|chapter|para|art|article)"
# A software name right before a dotted quad makes it a version ("Chrome 5.7.122.58", "微信 8.0.1.20").
_SOFTWARE_NAMES = (r"微信|支付宝|支付寶|鸿蒙|鴻蒙|(?i:chrome|chromium|firefox|edge|safari|opera|android|ios|ipados|macos|windows|win|linux|kernel|"
                   r"ubuntu|debian|centos|python|java|jdk|node|nodejs|npm|php|mysql|postgresql|nginx|apache|openssl|office|wechat|"
                   r"weixin|qq|miui|emui|harmonyos|coloros|oneui|vscode|docker|kubernetes|app|sdk|api|electron|unity|driver|bios)")
IP_NEG_BEFORE = re.compile(
    rf"(?:(?:{_VERSION_WORDS}|{_SECTION_WORDS})\s*(?:[是为為係:：.#=]|is)?\s*[(（]?\s*|(?:{_SOFTWARE_NAMES})\s*|[A-Za-z0-9][\-_]"
    # "from 1.0 to 7.19.126.124", "从 3.2 升级到 4.1.20.3": the second of two versions
    r"|(?i:from)\s+v?\d+(?:\.\d+)*\s+(?i:to)\s+|[从從]\s*v?\d+(?:\.\d+)*\s*(?:升级|升級|更新)?[到至]\s*)$")
# After: a version or section word, or a file extension / name part glued on ("…-13.11.211.161.apk", "1.2.3.4-beta").
IP_NEG_AFTER = re.compile(
    r"^(?:\s*[)）]?\s*(?:版本?|條|条|款|节|節|章|小节|小節|项|項|及以上|以上|(?i:version\b|build\b|release\b|or later|or above|or newer|and above))"
    r"|\.[A-Za-z]{2,4}\b|[\-_+][A-Za-z])")
# Software-release vocabulary anywhere near (either side) also makes a dotted quad a version,
# unless a network word stands before it ("更新到 5.17.30.156", "agent version=10.5.104.45 started").
_RELEASE_VOCAB = re.compile(
    r"版本|韌體|固件|补丁|補丁|客户端|客戶端|软件|軟件|軟體|程序|程式|应用|應用|驱动|驅動|插件|更新|升级|升級|降级|降級|安装|安裝|发布|發佈|發布|下载|下載|"
    r"(?i:version|firmware|release|build|patch|hotfix|update|upgrade|install|download|agent|plugin|package|changelog|"
    r"chrome|chromium|firefox|edge|safari|android|ios|ipados|macos|windows|wechat|weixin|miui|emui|harmonyos|coloros|oneui|vscode|app|sdk)"
)
_NETWORK_VOCAB = re.compile(
    r"地址|位址|登录|登錄|登入|登陆|登陸|访问|訪問|连接|連接|連線|连线|网关|網關|代理|白名单|白名單|端口|服务器|伺服器|主机|主機|"
    r"(?i:ip|addr|host|server|from|src|dst|peer|remote|login|ping|ssh|connect|proxy|gateway|dns|upstream|firewall|whitelist|port|client:)"
)
# Words that say the number right after them names an order, a parcel, a document or a product:
# checksum coincidences there (1 in 10 for Luhn) are not cards, phones or 15-digit IDs.
NUMBER_NEG_CONTEXT = re.compile(
    r"(?:订单|訂單|单号|單號|编号|編號|流水|序号|序號|发票|發票|票据|票據|收据|收據|单据|單據|凭证|憑證|保单|保單|代码|代碼|批号|批號|"
    r"书号|書號|运单|運單|快递|快遞|物流|交易|"
    r"(?i:isbn|order|invoice|receipt|voucher|policy|tracking|waybill|booking (?:ref|no|number|code|id)|ref|reference|serial|sku|transaction))"
    r"\s*(?:号码|號碼|号|號|(?i:no\.?|number|id))?\s*(?:[是为為係:：#]|is)?\s*[(（]?\s*$"
)


def has_context(text: str, start: int, context: re.Pattern) -> bool:
    """Return True when `context` occurs in the window of text just before `start`."""
    return context.search(text, max(0, start - _CONTEXT_WINDOW), start) is not None


def names_another_number(text: str, start: int) -> bool:
    """Return True when the words just before `start` say the number is an order, invoice, tracking... number."""
    return NUMBER_NEG_CONTEXT.search(text, max(0, start - 16), start) is not None


@dataclass(frozen=True)
class DetectOptions:
    """Tunables of the validators (recipe parameters of redact_pii)."""

    # Transforms have no clock: a resident ID's birth year is accepted from 1900 up to this year.
    id_max_year: int = 2035


DEFAULT_OPTIONS = DetectOptions()

# --- validators: (matched value, whole text, match start, options) -> is PII ----------------------


def valid_email(value: str, text: str, start: int, opts: DetectOptions) -> bool:
    """An address whose local part and domain labels are well formed."""
    local, _, domain = value.rpartition("@")
    return ".." not in local and not local.startswith(".") and all(domain.split("."))


_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
# Country calling codes written without "+" ("852-2345 6789", "(852) 2345 6789", "86 138…"): the
# region is decided by the prefix, and the number must be valid in that region.
_CC_REGION = {"86": "CN", "852": "HK", "853": "MO", "886": "TW"}
_GROUPED_8 = re.compile(r"\d{4}[ \-]\d{4}")
# A contact name right after a bare number: "請電５７４５７６５４陳生", "23456789 王小姐", "9123 4567 (Ms Wong)".
HONORIFIC_AFTER = re.compile(r"\s*[(（]?\s*(?:[\u4e00-\u9fff]{1,2}(?:先生|小姐|女士|太太|生|姐|sir)|(?i:mr|ms|mrs|miss)\b)")


def _valid_number(digits: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        num = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    return num if phonenumbers.is_valid_number(num) else None


def _valid_in_region(e164_digits: str, region: str) -> bool:
    num = _valid_number("+" + e164_digits, None)
    return num is not None and phonenumbers.region_code_for_number(num) == region


AMOUNT_BEFORE = re.compile(
    r"(?:[¥￥$€£]|HK\$|NT\$|US\$|RMB|CNY|HKD|MOP|价格?|價格?|价钱|價錢|价值|價值|额|額|金|款|费用?|費用?|资|資|收入|薪|工资|工資|共|总|總|"
    r"合计|合計|约|約|达|達|逾|超过|超過|第|"
    r"(?i:price|amount|total|revenue|cost|fee|salary|sum|about|over|of|no\.?|#))\s*[:：]?\s*$"
)
UNIT_AFTER = re.compile(r"\s*(?:元|円|圓|块|塊|萬|万|亿|億|人|次|件|个|個|股|张|張|台|辆|輛|户|戶|份|%|％|米|公里|公斤|克|吨|噸|年|号|號|期|[€£¥$]|(?i:km|kg|m\b|g\b|usd|hkd|rmb|eur|yuan|zł|kr\b|people|times|units))")


def is_amount_or_quantity(text: str, start: int, end: int) -> bool:
    """Return True when a currency/amount word precedes text[start:end] or a unit follows it."""
    return AMOUNT_BEFORE.search(text, max(0, start - 8), start) is not None or UNIT_AFTER.match(text, end) is not None


def valid_phone_window(value: str, text: str, start: int, opts: DetectOptions = DEFAULT_OPTIONS) -> bool:
    """A number phonenumbers calls valid in the region its prefix names (+852, (853), 00886, 86-…) or in its local form.

    Local forms: mainland mobiles (11 digits) and 0-trunk landlines, Taiwan 0-trunk numbers, 400/800;
    Hong Kong and Macau 8-digit numbers when written 4+4 ("2345 6789") or with a phone word nearby.
    """
    if value.endswith("-"):
        return False
    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15:
        return False
    groups = [g for g in re.split(r"\D+", value) if g]
    if "." in value and (max(len(g) for g in groups) < 4 or value.count(".") < 2):
        return False  # dotted short groups: an IPv4 address or a version; one dot: a decimal ("7602.2070万元")
    if value.lstrip("(（ ").startswith("+"):
        return _valid_number("+" + digits, None) is not None
    if digits.startswith("00"):
        return len(digits) > 9 and _valid_number("+" + digits[2:], None) is not None
    if groups[0] in _CC_REGION and len(groups) > 1 and _valid_in_region(digits, _CC_REGION[groups[0]]):
        return True
    # Without a country prefix, a number the text names as an order/receipt/tracking number is not a phone.
    if names_another_number(text, start):
        return False
    if len(digits) == 13 and digits.startswith("86") and _CN_MOBILE.fullmatch(digits[2:]):
        return _valid_number("+" + digits, None) is not None
    if len(digits) == 11 and _CN_MOBILE.fullmatch(digits):
        return _valid_number(digits, "CN") is not None
    if digits.startswith("0"):
        return _valid_number(digits, "CN") is not None or _valid_number(digits, "TW") is not None
    if digits[:3] in ("400", "800") and len(digits) == 10:
        return _valid_number(digits, "CN") is not None
    if len(digits) in (11, 12) and digits[:3] in ("852", "853", "886") and _valid_in_region(digits, _CC_REGION[digits[:3]]):
        return True  # "85291234567" as WhatsApp links and exports write it
    if len(digits) == 8 and (_valid_number(digits, "HK") is not None or _valid_number(digits, "MO") is not None):
        # An 8-digit number in Hong Kong's or Macau's allocated ranges is a phone number unless the
        # text says it is an amount, a quantity or a span of years; dates (19xx/20xx) are outside both plans.
        if has_context(text, start, PHONE_CONTEXT) or HONORIFIC_AFTER.match(text, start + len(value)) is not None:
            return True
        if is_amount_or_quantity(text, start, start + len(value)) or is_year_range(value):
            return False
        return _GROUPED_8.fullmatch(value) is not None or value.isdigit()
    return False


def is_year_range(value: str) -> bool:
    """Return True for "2558-2561" / "2015 2016": two 4-digit years (Gregorian or Buddhist era) a few years apart."""
    m = re.fullmatch(r"(\d{4})[ \-](\d{4})", value)
    return m is not None and 1800 <= int(m.group(1)) <= 2700 and 0 <= int(m.group(2)) - int(m.group(1)) <= 50


# GB 11643 area codes begin with a province-level code (GB/T 2260). The county part is not
# checked: a resident ID keeps the code of the district where it was issued, including districts
# created, renamed or abolished after the holder's birth, so a historical county table rejects
# real IDs (310115 浦东新区 exists from 1992; 310115198506126575 is a real-shaped ID).
ID_PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65".split()
)
# Residence permits for Hong Kong, Macau and Taiwan residents use 810000 / 820000 / 830000.
PERMIT_AREAS = frozenset({"810000", "820000", "830000"})


def valid_id_area(area: str) -> bool:
    """Return True for a 6-digit area code under a real province (or a HK/Macau/Taiwan residence-permit code)."""
    return area in PERMIT_AREAS or (area[:2] in ID_PROVINCE_CODES and area[2:] != "0000")


def valid_birth_date(yyyymmdd: str, max_year: int) -> bool:
    """Return True when the 8 digits are a real calendar date from 1900 to `max_year`."""
    try:
        d = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1900 <= d.year <= max_year


def valid_id18(digits: str, opts: DetectOptions) -> bool:
    """18-character resident ID: province-level area code, real birth date, GB 11643 check character (stdnum)."""
    return valid_id_area(digits[:6]) and valid_birth_date(digits[6:14], opts.id_max_year) and ric.calc_check_digit(digits) == digits[17]


def valid_id_card(value: str, text: str, start: int, opts: DetectOptions = DEFAULT_OPTIONS) -> bool:
    """GB 11643 18-character IDs (check character, date, province); 15-digit legacy IDs (date, province; 19YY)."""
    digits = re.sub(r"[ \-]", "", value).upper()
    if len(digits) == 18:
        return valid_id18(digits, opts)
    # 15-digit IDs carry no check digit: only the shape protects them, so order/tracking numbers are excluded by context.
    return (digits[:6] not in PERMIT_AREAS and valid_id_area(digits[:6]) and valid_birth_date("19" + digits[6:12], opts.id_max_year)
            and not names_another_number(text, start))


def looks_like_id_number(digits: str) -> bool:
    """An 18-character number with an ID's province code and a 19xx/20xx year: a (mistyped) ID, not a card or USCC."""
    return len(digits) == 18 and valid_id_area(digits[:6]) and digits[6:8] in ("19", "20")


# GB 32100 registration authority -> allowed organisation-type codes (1 编制, 2 外交, 3 司法, 4 文化,
# 5 民政, 6 旅游, 7 宗教, 8 工会, 9 市场监管, A 军队, N 农业, Y 其他).
_USCC_TYPES = {"1": "1239", "2": "19", "3": "1234569", "4": "19", "5": "1239", "6": "129", "7": "129", "8": "19", "9": "123",
               "A": "19", "N": "1239", "Y": "1"}


def valid_uscc(value: str, text: str, start: int, opts: DetectOptions = DEFAULT_OPTIONS) -> bool:
    """GB 32100: authority and type codes, province-level region code, check character (stdnum's algorithm)."""
    if value[1] not in _USCC_TYPES.get(value[0], "") or value[2:4] not in ID_PROVINCE_CODES:
        return False
    # stdnum's validate() insists on 8 leading digits, which rejects the N (agriculture) and Y authorities.
    return uscc.calc_check_digit(value) == value[-1] and not looks_like_id_number(value)


# Issuer prefixes of 16-19 digit cards: Visa 4, Mastercard 51-55/2221-2720, UnionPay 62/81,
# Discover 60/64/65, JCB 35, Diners 30/36/38/39, domestic 9xx debit.
_CARD_PREFIX = re.compile(r"4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|62|81|6(?:0|4|5)|35|3[0689]|9")


def valid_bank_card(value: str, text: str, start: int, opts: DetectOptions = DEFAULT_OPTIONS) -> bool:
    """16-19 digits with a card issuer prefix and a valid Luhn check digit, not named as an order/invoice number."""
    digits = re.sub(r"[ -]", "", value)
    if not (16 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) is not None and luhn.is_valid(digits)):
        return False
    return not looks_like_id_number(digits) and not names_another_number(text, start)


def valid_passport(value: str, text: str, start: int, opts: DetectOptions = DEFAULT_OPTIONS) -> bool:
    """Passport/travel-permit shaped, with a passport word nearby (no public checksum exists)."""
    return has_context(text, start, PASSPORT_CONTEXT)


_HK_LETTERS = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ", start=10)}


def hk_id_check_digit(prefix: str, digits: str) -> str:
    """Return the Hong Kong identity card check digit for a 1-2 letter prefix and 6 digits."""
    values = ([36] if len(prefix) == 1 else []) + [_HK_LETTERS[c] for c in prefix] + [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1)))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


_HK_ID_PARTS = re.compile(r"([A-Z]{1,2}) ?(\d{6}) ?[(（]?([0-9A])[)）]?")


def valid_hk_id(value: str, text: str, start: int, opts: DetectOptions = DEFAULT_OPTIONS) -> bool:
    """HKID check digit; the bracketless form also needs an identity-card word nearby."""
    m = _HK_ID_PARTS.fullmatch(value)
    if m is None or hk_id_check_digit(m.group(1), m.group(2)) != m.group(3):
        return False
    if "(" in value or "（" in value:
        return True
    # "EH9257626" after 护照 is a passport that happens to pass the HKID check (1 in 11).
    return has_context(text, start, HK_ID_CONTEXT) and not has_context(text, start, PASSPORT_CONTEXT)


def valid_mo_id(value: str, text: str, start: int, opts: DetectOptions = DEFAULT_OPTIONS) -> bool:
    """Macau resident ID 1/5/7 + 6 digits + check digit; its algorithm is not public, so the bracket form needs context."""
    return "/" in value or has_context(text, start, MO_ID_CONTEXT)


def is_version_or_section(text: str, start: int, end: int) -> bool:
    """Return True when a version/section word is adjacent to text[start:end], or release vocabulary is near and no network word precedes."""
    if IP_NEG_BEFORE.search(text, max(0, start - 16), start) is not None or IP_NEG_AFTER.search(text[end:end + 12]) is not None:
        return True
    near = _RELEASE_VOCAB.search(text, max(0, start - 20), start) is not None or _RELEASE_VOCAB.search(text[end:end + 16]) is not None
    return near and _NETWORK_VOCAB.search(text, max(0, start - _CONTEXT_WINDOW), start) is None


def valid_ipv4(value: str, text: str, start: int, opts: DetectOptions = DEFAULT_OPTIONS) -> bool:
    """A dotted quad ipaddress accepts (no octet > 255, no leading zeros), not a version or section number."""
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return not is_version_or_section(text, start, start + len(value))


def valid_ipv6(value: str, text: str, start: int, opts: DetectOptions = DEFAULT_OPTIONS) -> bool:
    """An address ipaddress accepts, with at least three groups (so 12:30:45 and a::b are not)."""
    if sum(1 for g in value.split(":") if g) < 3:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


_PLATE_PARTS = re.compile(r"(.)[·•・. -]?([A-HJ-NP-Z])[·•・. -]?([A-HJ-NP-Z0-9]+)([挂学警港澳领试超]?)")
_NEW_ENERGY = re.compile(r"[DABCEFGHJK][A-HJ-NP-Z0-9]\d{4}|\d{5}[DABCEFGHJK]")


def valid_plate(value: str, text: str, start: int, opts: DetectOptions = DEFAULT_OPTIONS) -> bool:
    """GA 36 mainland plate: province + issuing letter + 5 characters (<= 3 letters), 6 for new energy, 4 + 挂/学/警/港/澳."""
    m = _PLATE_PARTS.fullmatch(value)
    if m is None:
        return False
    serial, suffix = m.group(3), m.group(4)
    letters = sum(c.isalpha() for c in serial)
    if len(serial) == 5:
        return letters <= 3
    if len(serial) == 6:
        return _NEW_ENERGY.fullmatch(serial) is not None and not suffix
    return len(serial) == 4 and bool(suffix) and letters <= 1


@dataclass(frozen=True)
class Detector:
    """A PII type's candidate regex, validator and tie-break priority (lower wins on the same span)."""

    type: str
    pattern: re.Pattern
    validate: Callable[[str, str, int, DetectOptions], bool]
    priority: int


_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
_MMDD = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
DETECTORS: tuple[Detector, ...] = (
    # 18 characters, also grouped 6-8-4 ("310115 19850612 6575"); 15-digit legacy IDs.
    Detector("ID_CARD", re.compile(
        _B + rf"(?:[1-8]\d{{5}}(?P<sep>[ \-]?)(?:19|20)\d{{2}}{_MMDD}(?P=sep)\d{{3}}[0-9Xx]|[1-6]\d{{5}}\d{{2}}{_MMDD}\d{{3}})" + _E, re.ASCII),
        valid_id_card, 0),
    Detector("USCC", re.compile(_B + r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}" + _E, re.ASCII), valid_uscc, 1),
    Detector("BANK_CARD", re.compile(_B + r"(?:\d{4}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?|\d{4}[ -]?\d{6}[ -]?\d{6,9})" + _E, re.ASCII), valid_bank_card, 2),
    Detector("HK_ID", re.compile(_B + r"(?:[A-Z]{1,2} ?\d{6} ?(?:\([0-9A]\)|（[0-9A]）)|[A-Z]{1,2}\d{6}[0-9A])" + _E, re.ASCII), valid_hk_id, 3),
    Detector("MO_ID", re.compile(_B + r"[1578](?:\d{6}(?:\(\d\)|（\d）)|/\d{6}/\d)" + _E, re.ASCII), valid_mo_id, 4),
    Detector("PASSPORT", re.compile(_B + r"(?:[A-Z]{1,2}\d{6,9})" + _E, re.ASCII), valid_passport, 5),
    # Digits with single separators (space, dash, dot) and parenthesised codes: "(852) 2345 6789",
    # "(+86) 138…", "+385(0)51", "（０２０）"; "(13812345678)" matches without its brackets. Not
    # started inside a dotted number ("v1.2.3.4") or an identifier ("hbjs_87311111").
    Detector("PHONE", re.compile(
        r"(?<![0-9A-Za-z+_])(?<![0-9]\.)\+?(?:[(（]\+?[0-9]{1,5}[)）]|[0-9])"
        r"(?:[0-9]|[\-.](?=[0-9])|[(（]\+?[0-9]{1,5}[)）]| (?=[0-9(（]))*(?<=[0-9])" + _E, re.ASCII),
        valid_phone_window, 6),
    Detector("EMAIL", re.compile(
        r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?@"
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])", re.ASCII), valid_email, 7),
    # "来源IP192.168.1.1": Chinese text glues the address to the word IP, so letters may precede.
    Detector("IP", re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z]|\.\d)", re.ASCII), valid_ipv4, 8),
    Detector("IP", re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:|:){2,7}(?:[0-9A-Fa-f]{1,4}|:)(?![0-9A-Za-z:])", re.ASCII), valid_ipv6, 8),
    Detector("PLATE", re.compile(
        rf"[{_PROVINCES}][·•・. -]?[A-HJ-NP-Z][·•・. -]?[A-HJ-NP-Z0-9]{{4,6}}[挂学警港澳领试超]?(?![0-9A-Za-z])", re.ASCII), valid_plate, 9),
)


def _phone_spans(text: str, m: re.Match, validate: bool, opts: DetectOptions) -> list[tuple[int, int]]:
    """Split a digit run at single spaces and return the leftmost-longest windows that validate."""
    words = [(w.start() + m.start(), w.end() + m.start()) for w in re.finditer(r"\S+", m.group())]
    if not validate:
        return [(m.start(), m.end())] if len(re.sub(r"\D", "", m.group())) >= 7 else []
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        for j in range(len(words) - 1, i - 1, -1):
            s, e = words[i][0], words[j][1]
            if valid_phone_window(text[s:e], text, s, opts):
                out.append((s, e))
                i = j
                break
        i += 1
    return out


def find_candidates(text: str, types: frozenset[str] | None = None, validate: bool = True,
                    opts: DetectOptions = DEFAULT_OPTIONS) -> list[tuple[Span, int]]:
    """Return (span, priority) for every candidate of the enabled types; validated unless `validate` is False."""
    found: list[tuple[Span, int]] = []
    for det in DETECTORS:
        if types is not None and det.type not in types:
            continue
        for m in det.pattern.finditer(text):
            if det.type == "PHONE":
                found += [(Span("PHONE", s, e), det.priority) for s, e in _phone_spans(text, m, validate, opts)]
            elif not validate or det.validate(m.group(), text, m.start(), opts):
                found.append((Span(det.type, m.start(), m.end()), det.priority))
    return found


def resolve_overlaps(cands: list[tuple[Span, int]]) -> list[Span]:
    """Keep non-overlapping spans: longer first, then the higher-priority (checksummed) type; sorted by start."""
    kept: list[Span] = []
    taken: list[tuple[int, int]] = []
    for span, _ in sorted(cands, key=lambda c: (-(c[0].end - c[0].start), c[1], c[0].start)):
        if all(span.end <= s or span.start >= e for s, e in taken):
            kept.append(span)
            taken.append((span.start, span.end))
    return sorted(kept, key=lambda s: s.start)


# Full-width letters, digits and the symbols PII values contain (＠．－＋／＿％) are folded one
# character to one character: matching runs on the folded shadow, and its offsets are valid in
# the original text, which is what gets redacted. CJK punctuation (：，（）) is not folded: it is
# context around a value ("IP地址：fe80::1"), and folding it would change the boundaries.
_FOLD_CHARS = "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ＠．－＋／＿％"
# The ideographic space and no-break space fold to a space, hyphen and en-dash variants to "-": they
# separate digit groups in typed numbers ("２４８０　５２６１", "138‑1234‑5678", "0755—8888 1234").
FULLWIDTH_FOLD = {ord(c): ord(c) - 0xFEE0 for c in _FOLD_CHARS} | {0x3000: 0x20, 0xA0: 0x20, 0x2010: 0x2D, 0x2011: 0x2D, 0x2012: 0x2D, 0x2013: 0x2D,
                                                             0x2014: 0x2D, 0x2212: 0x2D}
FULLWIDTH_RE2 = r"[\x{ff10}-\x{ff19}\x{ff21}-\x{ff3a}\x{ff41}-\x{ff5a}\x{ff20}\x{ff0e}\x{ff0d}\x{ff0b}\x{ff0f}\x{ff3f}\x{ff05}\x{3000}\x{a0}\x{2010}-\x{2014}\x{2212}]"


def fold_fullwidth(text: str) -> str:
    """Return `text` with full-width ASCII folded to ASCII (same length, same offsets)."""
    return text.translate(FULLWIDTH_FOLD)


def find_pii(text: str, types: frozenset[str] | None = None, opts: DetectOptions = DEFAULT_OPTIONS) -> list[Span]:
    """Return the validated, non-overlapping PII spans of `text` (full-width digits included), sorted by start."""
    return resolve_overlaps(find_candidates(fold_fullwidth(text), types, validate=True, opts=opts))


def find_pii_naive(text: str, types: frozenset[str] | None = None) -> list[Span]:
    """Baseline for benchmarks and tests: the same candidate regexes with no validation at all."""
    return resolve_overlaps(find_candidates(text, types, validate=False))


def count_span_matches(records: list[dict], find: Callable[[str], list[Span]]) -> dict[str, tuple[int, int, int]]:
    """Return PII type -> (tp, fp, fn) of `find` on labelled records ({"text", "spans": [{type, start, end}]}), exact spans."""
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    for rec in records:
        gold = {(s["type"], s["start"], s["end"]) for s in rec["spans"]}
        pred = {(s.type, s.start, s.end) for s in find(rec["text"])}
        for g in gold:
            (tp if g in pred else fn)[g[0]] += 1
        for p in pred - gold:
            fp[p[0]] += 1
    return {t: (tp[t], fp[t], fn[t]) for t in PII_TYPES}


class EvalScore(NamedTuple):
    """Recall per PII type (value wholly inside one span of its type) and look-alikes kept (no span at all) per kind."""

    caught: dict[str, tuple[int, int]]  # type -> (caught, total)
    kept: dict[str, tuple[int, int]]  # look-alike kind -> (kept, total)
    missed: list[tuple[str, str]]  # (type, text) of every missed value
    flagged: list[tuple[str, str]]  # (kind, text) of every look-alike record with a detection


def score_eval_set(records: list[dict], find: Callable[[str], list[Span]]) -> EvalScore:
    """Score `find` on evaluation records ({"kind": positive|lookalike, "text", "spans", "subkind"})."""
    caught: dict[str, list[int]] = {}
    kept: dict[str, list[int]] = {}
    missed: list[tuple[str, str]] = []
    flagged: list[tuple[str, str]] = []
    for rec in records:
        pred = find(rec["text"])
        if rec["kind"] == "lookalike":
            k = kept.setdefault(rec["subkind"], [0, 0])
            k[1] += 1
            if pred:
                flagged.append((rec["subkind"], rec["text"]))
            else:
                k[0] += 1
            continue
        for g in rec["spans"]:
            c = caught.setdefault(g["type"], [0, 0])
            c[1] += 1
            if any(p.type == g["type"] and p.start <= g["start"] and g["end"] <= p.end for p in pred):
                c[0] += 1
            else:
                missed.append((g["type"], rec["text"]))
    return EvalScore({t: (a, b) for t, (a, b) in caught.items()}, {k: (a, b) for k, (a, b) in kept.items()}, missed, flagged)


def redact(text: str, spans: list[Span], placeholder: str) -> tuple[str, list[Span]]:
    """Return `text` with each span replaced by its placeholder, and the placeholders' spans in the new text."""
    parts: list[str] = []
    out_spans: list[Span] = []
    pos = 0
    length = 0
    for sp in spans:
        parts.append(text[pos:sp.start])
        length += sp.start - pos
        ph = placeholder.format(type=sp.type)
        parts.append(ph)
        out_spans.append(Span(sp.type, length, length + len(ph)))
        length += len(ph)
        pos = sp.end
    parts.append(text[pos:])
    return "".join(parts), out_spans


def redact_text(text: str, types: frozenset[str] | None = None, placeholder: str = "<{type}>", opts: DetectOptions = DEFAULT_OPTIONS) -> str:
    """Return `text` with every detected PII value replaced by its typed placeholder (for any string: excerpts, logs, reports)."""
    return redact(text, find_pii(text, types, opts), placeholder)[0]


# Meta keys that say what their value is: the key is as strong a context as a word before the
# value in running text. Matched on the key lower-cased with separators (_ - . space) removed.
_PHONE_KEY = re.compile(r"phone|mobile|tel|cell|fax|whatsapp|contact|电话|電話|手机|手機|联系|聯繫|聯絡|联络")
_IDENTITY_KEY = re.compile(r"idno|idnum|idcard|nationalid|hkid|hkic|identity|身份|身分")
_PASSPORT_KEY = re.compile(r"passport|permit|travel|护照|護照|通行证|通行證")
_DOCUMENT_KEY = re.compile(r"certno|cert|document|docno|证件|證件")
_KEY_SEPARATORS = re.compile(r"[\s_\-.]")


def key_context(key: str) -> str:
    """Return the context words a meta key implies for its value ("" for keys that say nothing)."""
    k = _KEY_SEPARATORS.sub("", key.lower())
    words = []
    if _PHONE_KEY.search(k):
        words.append("电话")
    if _IDENTITY_KEY.search(k):
        words.append("身份证")
    if _PASSPORT_KEY.search(k) or (_DOCUMENT_KEY.search(k) and not _IDENTITY_KEY.search(k)):
        words.append("护照")
    if _DOCUMENT_KEY.search(k) and not _PASSPORT_KEY.search(k):
        words.append("身份证")
    return " ".join(words) + " " if words else ""


def find_pii_with_context(value: str, context: str, types: frozenset[str] | None = None, opts: DetectOptions = DEFAULT_OPTIONS) -> list[Span]:
    """Return the PII spans of `value` as if `context` were written just before it (offsets in `value`)."""
    if not context:
        return find_pii(value, types, opts)
    shift = len(context)
    return [Span(s.type, s.start - shift, s.end - shift) for s in find_pii(context + value, types, opts) if s.start >= shift]


def redact_json_value(value: object, types: frozenset[str] | None, placeholder: str, context: str = "", counts: Counter | None = None,
                      opts: DetectOptions = DEFAULT_OPTIONS, redact_values: bool = True) -> object:
    """Return a parsed JSON value with PII redacted in every string and integer and key, nested; keys are context for their values.

    `counts` (if given) receives the PII types found; with `redact_values=False` the value is only scanned.
    """
    counts = Counter() if counts is None else counts
    if isinstance(value, bool) or not isinstance(value, (str, int, dict, list)):
        return value
    if isinstance(value, (str, int)):
        # A phone or ID stored as a JSON number leaks as surely as a string one.
        as_text = value if isinstance(value, str) else str(value)
        spans = find_pii_with_context(as_text, context, types, opts) if isinstance(value, str) or abs(value) >= 1_000_000 else []
        counts.update(s.type for s in spans)
        return redact(as_text, spans, placeholder)[0] if spans and redact_values else value
    if isinstance(value, list):
        return [redact_json_value(v, types, placeholder, context, counts, opts, redact_values) for v in value]
    out: dict = {}
    for k, v in value.items():
        new_key = redact_json_value(k, types, placeholder, "", counts, opts, redact_values)
        while new_key in out:  # two keys redacted to the same placeholder: keep both values
            new_key = f"{new_key}#"
        out[new_key] = redact_json_value(v, types, placeholder, key_context(k) or context, counts, opts, redact_values)
    return out


def redact_json_string(doc: str, types: frozenset[str] | None = None, placeholder: str = "<{type}>", opts: DetectOptions = DEFAULT_OPTIONS) -> str:
    """Return a JSON document with PII redacted in every string/integer value and key; text that is not JSON is redacted as text."""
    try:
        parsed = json.loads(doc)
    except ValueError:
        return redact_text(doc, types, placeholder, opts)
    return json.dumps(redact_json_value(parsed, types, placeholder, opts=opts), ensure_ascii=False)


def redact_meta(meta: str, keys: tuple[str, ...] | None, types: frozenset[str] | None, placeholder: str, opts: DetectOptions,
                redact_values: bool) -> tuple[str, Counter]:
    """Return (meta JSON with PII redacted in all keys or only the top-level `keys`, PII types found); non-JSON meta is text."""
    counts: Counter = Counter()
    try:
        parsed = json.loads(meta)
    except ValueError:
        spans = find_pii(meta, types, opts)
        counts.update(s.type for s in spans)
        return (redact(meta, spans, placeholder)[0] if redact_values else meta), counts
    if keys is None or not isinstance(parsed, dict):
        out = redact_json_value(parsed, types, placeholder, counts=counts, opts=opts, redact_values=redact_values)
    else:
        out = {k: redact_json_value(v, types, placeholder, key_context(k), counts, opts, redact_values) if k in keys else v
               for k, v in parsed.items()}
    # Unchanged meta keeps its original bytes.
    return (json.dumps(out, ensure_ascii=False) if counts and redact_values else meta), counts


def to_utf16_offsets(text: str, spans: list[Span]) -> list[Span]:
    """Return spans with offsets in UTF-16 code units (what browsers and Label Studio count)."""
    if text.isascii() or all(ord(c) < 0x10000 for c in text):
        return spans
    prefix = [0]
    for c in text:
        prefix.append(prefix[-1] + (2 if ord(c) >= 0x10000 else 1))
    return [Span(s.type, prefix[s.start], prefix[s.end]) for s in spans]


def sensitivity_of(counts: dict[str, int], levels: dict[str, str]) -> str:
    """Return the highest sensitivity level among the PII types present (``none`` without PII)."""
    best = 0
    for t, n in counts.items():
        if n:
            best = max(best, SENSITIVITY_ORDER.index(levels.get(t, "high")))
    return SENSITIVITY_ORDER[best]


# Per-type RE2 gates, run vectorised over the whole batch: every candidate the type's Python
# pattern can match contains a match of its gate, so a row is scanned only for the types whose
# gate it matches (most rows: none). Phone digits may be split by separators ("+886 925 418 381", "(+86) 138.1234.5678").
TYPE_GATES_RE2: dict[str, str] = {
    "ID_CARD": r"[1-9][0-9]{14}|[1-9][0-9]{5}[ -][0-9]{8}[ -][0-9]{3}",
    "USCC": r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}",
    "BANK_CARD": r"[0-9]{4}[ -]?[0-9]{4}",
    "HK_ID": r"[A-Z] ?[0-9]{6}",
    "MO_ID": r"[1578]/?[0-9]{6}",
    "PASSPORT": r"[A-Z][0-9]{6}",
    "PHONE": r"[0-9](?:[ ()（）+.\-]*[0-9]){6}",
    "EMAIL": r"@",
    "IP": r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]|:[0-9A-Fa-f]{0,4}:",
    "PLATE": rf"[{_PROVINCES}][·•・. -]?[A-HJ-NP-Z]",
}
PII_COUNTS_TYPE = pa.struct([pa.field(t, pa.int32()) for t in PII_TYPES])
PII_SPANS_TYPE = pa.list_(pa.struct([pa.field("type", pa.string()), pa.field("start", pa.int32()), pa.field("end", pa.int32())]))


def _nonzero_rows(arr: pa.Array, types: tuple[str, ...]) -> dict[int, frozenset[str]]:
    """Return row -> PII types whose RE2 gate matches the (full-width folded) strings of `arr`."""
    gate_arr = map_where(arr, pc.fill_null(pc.match_substring_regex(arr, pattern=FULLWIDTH_RE2), False), fold_fullwidth)
    rows: dict[int, frozenset[str]] = {}
    for t in dict.fromkeys(types):
        mask = pc.fill_null(pc.match_substring_regex(gate_arr, pattern=TYPE_GATES_RE2[t]), False)
        for i in pc.indices_nonzero(mask).to_pylist():
            rows[i] = rows.get(i, frozenset()) | {t}
    return rows


def _counts_note(c: Counter) -> str:
    return ",".join(f"{t}x{n}" for t, n in sorted(c.items()))


@register_op
class RedactPii(Mapper):
    """Detect checksum-validated PII in the text and the meta JSON; replace it with typed placeholders (or only detect)."""

    name: ClassVar[str] = "redact_pii"
    # 2: meta fields are redacted too (fields), resident IDs by province code, phones by prefix region.
    version: ClassVar[int] = 2
    summary: ClassVar[str] = ("email/phone/ID/USCC/bank card/passport/HKID/Macau ID/IP/plate -> <TYPE> in text and meta; "
                              "pii_counts, pii_meta_counts, sensitivity, pii_spans")

    mode: Literal["redact", "detect"] = Field("redact", description="redact replaces values; detect leaves text as is and only reports")
    fields: Literal["text+meta", "text"] | tuple[str, ...] = Field(
        "text+meta",
        description="where to look: text+meta (every string/number value and key of the meta JSON, nested), text, "
        "or a list of 'text', 'meta' and 'meta.<top-level key>'",
    )
    types: tuple[PiiType, ...] = Field(PII_TYPES, description="PII types to look for")
    placeholder: str = Field("<{type}>", description="replacement; {type} is the PII type name")
    keep_spans: bool = Field(True, description="add pii_spans: detected values (detect) or placeholders (redact) in the output text")
    span_unit: Literal["codepoint", "utf16"] = Field("codepoint", description="offset unit of pii_spans (utf16 = JavaScript / Label Studio)")
    sensitivity_levels: dict[PiiType, SensitivityLevel] = Field(
        default_factory=lambda: dict(DEFAULT_SENSITIVITY), description="PII type -> level; sensitivity = highest level present"
    )
    id_max_birth_year: int = Field(DEFAULT_OPTIONS.id_max_year, ge=1900, le=2200,
                                   description="latest birth year a resident ID may carry (transforms have no clock)")

    @field_validator("placeholder")
    @classmethod
    def _placeholder_names_type(cls, v: str) -> str:
        if "{type}" not in v:
            raise ValueError("placeholder must contain {type}, e.g. '<{type}>'")
        return v

    @field_validator("fields")
    @classmethod
    def _fields_are_known(cls, v: str | tuple[str, ...]) -> str | tuple[str, ...]:
        if isinstance(v, tuple):
            bad = [f for f in v if f not in ("text", "meta") and not (f.startswith("meta.") and len(f) > 5)]
            if bad or not v:
                raise ValueError(f"fields entries must be 'text', 'meta' or 'meta.<key>', got {bad or 'an empty list'}")
        return v

    def _scopes(self) -> tuple[bool, bool, tuple[str, ...] | None]:
        """Return (scan text, scan meta, top-level meta keys or None for all of meta)."""
        if self.fields == "text+meta":
            return True, True, None
        if self.fields == "text":
            return True, False, None
        keys = tuple(f[5:] for f in self.fields if f.startswith("meta."))
        return "text" in self.fields, "meta" in self.fields or bool(keys), None if "meta" in self.fields else keys

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        scan_text, scan_meta, meta_keys = self._scopes()
        opts = DetectOptions(id_max_year=self.id_max_birth_year)
        redacting = self.mode == "redact"
        verb = "redacted" if redacting else "detected"
        text_arr = live.column("text").combine_chunks()
        # Gates see what find_pii sees: the full-width-folded text (only rows with full-width chars change).
        text_rows = _nonzero_rows(text_arr, self.types) if scan_text else {}
        meta_rows: dict[int, frozenset[str]] = {}
        if scan_meta and "meta" in live.column_names:
            meta_arr = live.column("meta").combine_chunks()
            meta_rows = _nonzero_rows(meta_arr, self.types)
        levels = {**DEFAULT_SENSITIVITY, **self.sensitivity_levels}
        texts = text_arr.to_pylist() if text_rows else []
        metas = meta_arr.to_pylist() if meta_rows else []
        new_texts: list[str] | None = list(texts) if text_rows and redacting else None
        new_metas: list[str | None] | None = list(metas) if meta_rows and redacting else None
        counts: list[dict[str, int]] = []
        meta_counts: list[dict[str, int]] = []
        sensitivity: list[str] = []
        spans_out: list[list[dict]] = []
        notes: list[str | None] = []
        for i in range(live.num_rows):
            spans = find_pii(texts[i], text_rows[i], opts) if i in text_rows else []
            c = Counter(s.type for s in spans)
            mc: Counter = Counter()
            if i in meta_rows and metas[i] is not None:
                redacted_meta, mc = redact_meta(metas[i], meta_keys, meta_rows[i], self.placeholder, opts, redacting)
                if new_metas is not None:
                    new_metas[i] = redacted_meta
            counts.append({t: c.get(t, 0) for t in PII_TYPES})
            meta_counts.append({t: mc.get(t, 0) for t in PII_TYPES})
            sensitivity.append(sensitivity_of(c + mc, levels))
            if spans and new_texts is not None:
                new_texts[i], spans = redact(texts[i], spans, self.placeholder)
            if spans and self.span_unit == "utf16":
                spans = to_utf16_offsets(new_texts[i] if new_texts is not None else texts[i], spans)
            spans_out.append([s._asdict() for s in spans])
            for t, n in c.items():
                stats.add(f"{verb}:{t}", n)
            for t, n in mc.items():
                stats.add(f"{verb}_meta:{t}", n)
            stats.add("rows_with_pii", 1 if c or mc else 0)
            parts = ([_counts_note(c)] if c else []) + ([f"meta {_counts_note(mc)}"] if mc else [])
            notes.append(f"{self.op_id}: {verb} " + "; ".join(parts) if parts else None)
        if new_texts is not None:
            live = set_column(live, "text", pa.array(new_texts, pa.string()))
        if new_metas is not None:
            live = set_column(live, "meta", pa.array(new_metas, pa.string()))
        live = set_column(live, "pii_counts", pa.array(counts, PII_COUNTS_TYPE))
        live = set_column(live, "pii_meta_counts", pa.array(meta_counts, PII_COUNTS_TYPE))
        live = set_column(live, "sensitivity", pa.array(sensitivity, pa.string()))
        if self.keep_spans:
            live = set_column(live, "pii_spans", pa.array(spans_out, PII_SPANS_TYPE))
        return add_trace(live, notes)
