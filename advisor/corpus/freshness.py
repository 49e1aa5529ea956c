"""How fresh a corpus is: the dates its text mentions and when its files were last changed."""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from datetime import date, datetime, timezone

_MONTHS = {name: number for number, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
     ("december", "dec")], start=1) for name in names}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"((?:19|20)\d\d)"
# A date names a year with a month (and perhaps a day); a bare year ("since 1987") is a weaker hint, counted apart.
_DATES = [
    (re.compile(rf"(?<!\d){_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\d)"), ("year", "month", "day")),
    (re.compile(rf"(?i)\b(0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?\s+{_MONTH}\s*,?\s+{_YEAR}\b"), ("day", "month", "year")),
    (re.compile(rf"(?i)\b{_MONTH}\s+(0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?\s*,\s*{_YEAR}\b"), ("month", "day", "year")),
    (re.compile(rf"(?i)\b{_MONTH}\s+{_YEAR}\b"), ("month", "year")),
]
_BARE_YEAR = re.compile(rf"(?<![\d:.,/-]){_YEAR}(?![\d:/-])")
_ANY_YEAR = re.compile(rf"(?<!\d){_YEAR}(?!\d)")
DAY = 86_400


def _month(value: str) -> int:
    return int(value) if value.isdigit() else _MONTHS[value.lower().rstrip(".")]


def dates_in(text: str) -> tuple[list[date], list[int]]:
    """(the full or month-precise dates the text names, the bare years it names elsewhere). Every date holds
    a year: the patterns are tried only on a few characters around each year (ten times faster on a large
    corpus than reading the whole text with each pattern)."""
    found, taken, bare = [], set(), []
    for year in _ANY_YEAR.finditer(text):
        low = max(0, year.start() - 32)
        window = text[low:year.end() + 6]
        hit = False
        for pattern, order in _DATES:
            for match in pattern.finditer(window):
                span = (low + match.start(), low + match.end())
                if not span[0] <= year.start() < span[1]:
                    continue  # a date around another year: found from that year's window
                hit = True
                if span in taken or any(a < span[1] and span[0] < b for a, b in taken):
                    continue
                taken.add(span)
                parts = dict(zip(order, match.groups()))
                try:  # a date that does not exist (31 February) is taken, so no shorter date is made of it
                    found.append(date(int(parts["year"]), _month(parts["month"]), int(parts.get("day", 1))))
                except ValueError:
                    continue
        if not hit and _BARE_YEAR.match(text, year.start()):
            bare.append(int(year.group(1)))
    return found, bare


def freshness(documents, *, now: float | None = None) -> dict:
    """Dates in the text (how many, the range, the latest, documents naming one) and file modification
    times (oldest, newest, how many changed in the last 30 and 365 days): hints of how often the corpus
    changes, for the user to weigh against the rate of change they stated."""
    now = time.time() if now is None else now
    dated, years, documents_dated = [], Counter(), 0
    for document in documents:
        found, bare = dates_in(document.text)
        dated += found
        years.update(bare)
        documents_dated += bool(found)
    out: dict = {"dates_in_text": {"count": len(dated), "documents": documents_dated}}
    if dated:
        out["dates_in_text"] |= {"earliest": min(dated).isoformat(), "latest": max(dated).isoformat(),
                                 "by_year": dict(sorted(Counter(d.year for d in dated).items()))}
    if years:
        out["years_mentioned"] = {"count": sum(years.values()), "earliest": min(years), "latest": max(years)}
    times = sorted({(d.source, d.modified) for d in documents if d.modified is not None}, key=lambda t: t[1])
    if times:
        stamps = [t for _, t in times]

        def day(stamp: float) -> str:
            return datetime.fromtimestamp(stamp, timezone.utc).date().isoformat()

        out["file_times"] = {"files": len(stamps), "oldest": day(stamps[0]), "newest": day(stamps[-1]),
                             "median": day(statistics.median(stamps)),
                             "changed_last_30_days": sum(now - s <= 30 * DAY for s in stamps),
                             "changed_last_365_days": sum(now - s <= 365 * DAY for s in stamps)}
    return out


def describe_freshness(fresh: dict) -> list[str]:
    """Freshness in words, one line each."""
    lines = []
    text = fresh.get("dates_in_text", {})
    if text.get("count"):
        lines.append(f"{text['count']:,} dates in the text, in {text['documents']:,} document(s), from {text['earliest']} "
                     f"to {text['latest']}")
    else:
        lines.append("no dates in the text (with a month) were found")
    years = fresh.get("years_mentioned")
    if years:
        lines.append(f"{years['count']:,} other mentions of a year, from {years['earliest']} to {years['latest']}")
    files = fresh.get("file_times")
    if files:
        when = (f"every file last changed on {files['oldest']} (a copy or checkout sets every time alike: then the "
                "dates in the text say more)" if files["oldest"] == files["newest"] else
                f"files last changed from {files['oldest']} to {files['newest']} (median {files['median']})")
        lines.append(f"{when}; {files['changed_last_30_days']:,} of {files['files']:,} changed in the last 30 days, "
                     f"{files['changed_last_365_days']:,} in the last year")
    return lines
