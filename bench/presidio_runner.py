"""Run Microsoft Presidio's pattern recognizers over texts (executed inside .yuliao/presidio-venv by bench_clean_pii.py).

Presidio's AnalyzerEngine needs a spaCy model for NER; its pattern recognizers (email, phone via
phonenumbers, credit card with Luhn, IP) run without one, which is the offline-comparable part.
Input: JSON list of texts on stdin. Output: JSON {"seconds": cpu seconds, "spans": [[[type, start, end], ...], ...]}.
"""

from __future__ import annotations

import json
import logging
import sys
import time

logging.disable(logging.CRITICAL)  # tldextract logs its failed public-suffix download, then uses its snapshot

from presidio_analyzer.predefined_recognizers import (  # noqa: E402
    CreditCardRecognizer,
    EmailRecognizer,
    IpRecognizer,
    PhoneRecognizer,
)

# Presidio entity -> yuliao PII type.
TYPE_MAP = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "BANK_CARD", "IP_ADDRESS": "IP"}
RECOGNIZERS = [
    EmailRecognizer(),
    PhoneRecognizer(supported_regions=["CN", "HK", "MO", "TW", "US", "GB"]),
    CreditCardRecognizer(),
    IpRecognizer(),
]


def analyze(text: str) -> list[list]:
    out = []
    for rec in RECOGNIZERS:
        for r in rec.analyze(text, rec.supported_entities, None):
            if r.score >= 0.3:
                out.append([TYPE_MAP[r.entity_type], r.start, r.end])
    return out


def main() -> None:
    texts = json.load(sys.stdin)
    analyze("warm-up a@b.com 13812345678")
    t0 = time.process_time()
    spans = [analyze(t) for t in texts]
    json.dump({"seconds": time.process_time() - t0, "spans": spans}, sys.stdout)


if __name__ == "__main__":
    main()
