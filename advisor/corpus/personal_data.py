"""Finds personal data in documents: candidates by pattern, each one validated, reported masked with its file and line."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import asdict, dataclass

# Kind -> how a sentence names it; the order is the order of the report.
KINDS = {"emails": "e-mail address", "phone_numbers": "phone number", "payment_cards": "payment card number",
         "ibans": "IBAN", "ip_addresses": "IP address", "national_ids": "national id number"}
VALIDATION = {"emails": "a well-formed address with a domain", "phone_numbers": "phonenumbers (valid, digits grouped "
              "as the country writes them; national formats of the US, GB, DE and FR, and any international one); "
              "a bare run of digits only next to a word such as phone, tel, call or fax",
              "payment_cards": "Luhn checksum and a card network's prefix", "ibans": "python-stdnum (IBAN checksum)",
              "ip_addresses": "a public address (private, local and documentation ranges are not counted)",
              "national_ids": "python-stdnum (US SSN, Spanish DNI, Dutch BSN with their checks)"}
PHONE_REGIONS = ("US", "GB", "DE", "FR")
MAX_LISTED = 100  # findings listed with file and line; every one is counted

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![\w-])")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_SSN = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")
_DNI = re.compile(r"\b\d{8}-?[A-Z]\b")
_BSN = re.compile(r"(?i)\b(?:bsn|burgerservicenummer)\W{0,3}(\d{9})\b")
_DIGITS = re.compile(r"\d")
# Where a phone number could be: seven to fifteen digits with only a phone's separators between them.
_PHONE_LIKE = re.compile(r"\+?\(?\d[\d ().\-/]{5,24}\d")
# A number written as phones are (a leading + or separators between digit groups), unlike a bare run of digits.
_PHONE_GROUPED = re.compile(r"\+|\d[\s().\-/]+\d")
# A bare run (2147483647, 3232235521, a CRC or an ISBN-10 pass the matcher too) is a phone only near one of these.
# Words that also name other things in technical text (a table's cell, portable code) are left out.
_PHONE_WORDS = re.compile(r"(?i)\b(?:tel|t[ée]l[ée]phone|telefon|(?:tele|cell|smart)?phones?|phoned|"
                          r"call(?:s|ed|ing)?|fax|mobile?|mob|contact(?:s|ed)?|sms|whatsapp|hotline|dial(?:l?ed)?|"
                          r"rufnummer)\b")
PHONE_CONTEXT_CHARS = 32  # how near, on the same line, a telephone word must be to a bare run
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6(?:011|5)|35)")


@dataclass(frozen=True)
class Finding:
    kind: str
    path: str
    line: int
    value: str  # masked: never the whole value


def _keep_end(value: str, shown: int) -> str:
    """Every digit or letter masked but the last `shown` ones; separators kept."""
    hide = sum(ch.isalnum() for ch in value) - shown
    out = []
    for ch in value:
        if ch.isalnum() and hide > 0:
            out.append("*")
            hide -= 1
        else:
            out.append(ch)
    return "".join(out)


def mask(kind: str, value: str) -> str:
    if kind == "emails":
        local, _, domain = value.partition("@")
        top = domain.rsplit(".", 1)[-1]
        return f"{local[:1]}***@***.{top}"
    if kind == "ip_addresses":
        return ".".join(value.split(".")[:2] + ["*", "*"])
    if kind == "ibans":
        return value[:2] + _keep_end(value[2:], 4)
    return _keep_end(value, 4 if kind == "payment_cards" else 2)


def _cards(line: str):
    from stdnum import luhn

    for match in _CARD.finditer(line):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn.is_valid(digits):
            yield match.group()


def _ibans(line: str):
    from stdnum import iban

    for match in _IBAN.finditer(line):
        if iban.is_valid(match.group()):
            yield match.group()


def _ips(line: str):
    for match in _IPV4.finditer(line):
        try:
            address = ipaddress.ip_address(match.group())
        except ValueError:
            continue
        if address.is_global:
            yield match.group()


def _national_ids(line: str):
    from stdnum.es import dni
    from stdnum.nl import bsn
    from stdnum.us import ssn

    yield from (m.group() for m in _SSN.finditer(line) if ssn.is_valid(m.group()))
    yield from (m.group() for m in _DNI.finditer(line) if dni.is_valid(m.group()))
    yield from (m.group(1) for m in _BSN.finditer(line) if bsn.is_valid(m.group(1)))


def _near_phone_word(line: str, start: int, end: int) -> bool:
    # searched to the line's end, not to the window's, so that a word the window cuts ("callback") is not
    # read as the shorter one ("call")
    word = _PHONE_WORDS.search(line, max(0, start - PHONE_CONTEXT_CHARS))
    return word is not None and word.start() <= end + PHONE_CONTEXT_CHARS


def _phones(line: str):
    from phonenumbers import Leniency, PhoneNumberMatcher

    if not any(7 <= len(_DIGITS.findall(m.group())) for m in _PHONE_LIKE.finditer(line)):
        return  # the matcher is slow (most of a profile's time): only lines that could hold a number
    seen: set[tuple[int, int]] = set()
    for region in PHONE_REGIONS:
        for match in PhoneNumberMatcher(line, region, leniency=Leniency.STRICT_GROUPING):
            span = (match.start, match.end)
            if not _PHONE_GROUPED.search(match.raw_string) and not _near_phone_word(line, *span):
                continue
            if not any(a < span[1] and span[0] < b for a, b in seen):  # the same number in two regions: once
                seen.add(span)
                yield match.raw_string


def _line_findings(line: str):
    """(kind, raw value) for each validated finding on one line; numbers are looked at only where digits are."""
    for match in _EMAIL.finditer(line):
        yield "emails", match.group()
    if len(_DIGITS.findall(line)) < 7:
        return
    cards = list(_cards(line))
    yield from (("payment_cards", value) for value in cards)
    yield from (("ibans", value) for value in _ibans(line))
    yield from (("ip_addresses", value) for value in _ips(line))
    ids = list(_national_ids(line))
    yield from (("national_ids", value) for value in ids)
    taken = {re.sub(r"\D", "", value) for value in cards + ids}
    yield from (("phone_numbers", value) for value in _phones(line) if re.sub(r"\D", "", value) not in taken)


def find_personal_data(documents, max_listed: int = MAX_LISTED) -> dict:
    """Counts per kind, the first `max_listed` findings (masked) with their file and line, and how each
    kind was validated; JSON-ready. `documents` are advisor.corpus.loading.Document."""
    counts: Counter = Counter()
    listed: list[Finding] = []
    for document in documents:
        for number, line in enumerate(document.text.splitlines(), start=1):
            for kind, value in _line_findings(line):
                counts[kind] += 1
                if len(listed) < max_listed:
                    listed.append(Finding(kind, document.source, number, mask(kind, value)))
    return {"counts": {kind: counts.get(kind, 0) for kind in KINDS}, "findings": [asdict(f) for f in listed],
            "listed_all": sum(counts.values()) <= max_listed, "validated_by": VALIDATION}


def describe_counts(counts: dict[str, int]) -> str:
    """'3 e-mail addresses, 1 IBAN' for the kinds found; '' when none."""
    def name(kind: str, n: int) -> str:
        singular = KINDS.get(kind, kind.replace("_", " "))
        return singular if n == 1 else singular + ("es" if singular.endswith("ss") else "s")

    return ", ".join(f"{n:,} {name(kind, n)}" for kind, n in counts.items() if n)


def personal_data_counts(found: dict | None) -> dict[str, int]:
    """Kind -> how many, from a profile's personal-data findings (only the kinds found; reports written
    before validation held the counts at the top level)."""
    found = found or {}
    counts = found.get("counts", found)
    return {kind: count for kind, count in counts.items() if isinstance(count, int) and count > 0}
