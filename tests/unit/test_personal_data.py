"""Personal data: found by pattern, validated, counted per kind, listed masked with file and line."""

from advisor.corpus.loading import Document
from advisor.corpus.personal_data import describe_counts, find_personal_data, mask

# Numbers that look like personal data and are not (the profile once called several of them phones).
LOOKALIKES = """Timetable for 1990-1995 and 2001-2004; tickets 2024 2025.
Departures 0715 0830 0945 1100 from pier 12 34 56 78; reference 2024-0117-33.
Test card 4111 1111 1111 (12 digits) and account 1234 5698 7654; ISBN 978-3-16-148410-0; order 123456789.
Internal host 10.0.0.12 and 192.168.1.20; version 1.2.3; docs address 192.0.2.7; Luhn-failing 4111 1111 1111 1112.
Fake IBAN GB00 WEST 1234 5698 7654 32; not an e-mail: name@localhost, @handle.
"""

REAL = """Write to jane.doe@example.com or +44 20 7946 0958 (London).
US office: (415) 555-2671. Card on file 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32.
Server at 8.8.8.8; SSN 123-45-6789; DNI 12345678Z; BSN 111222333.
"""


def _doc(text, source="notes.md"):
    return Document(id=source, source=source, text=text)


def test_lookalike_numbers_are_not_personal_data():
    found = find_personal_data([_doc(LOOKALIKES)])
    assert sum(found["counts"].values()) == 0, found["findings"]


def test_each_kind_is_found_validated_and_masked_with_file_and_line():
    found = find_personal_data([_doc("header\n" + REAL, "people/contacts.txt")])
    assert found["counts"] == {"emails": 1, "phone_numbers": 2, "payment_cards": 1, "ibans": 1, "ip_addresses": 1,
                               "national_ids": 3}
    listed = {(f["kind"], f["value"]): (f["path"], f["line"]) for f in found["findings"]}
    assert listed[("emails", "j***@***.com")] == ("people/contacts.txt", 2)
    assert listed[("phone_numbers", "+** ** **** **58")] == ("people/contacts.txt", 2)  # matched whole
    assert listed[("payment_cards", "**** **** **** 1111")] == ("people/contacts.txt", 3)
    assert listed[("ibans", "GB** **** **** **** **54 32")] == ("people/contacts.txt", 3)
    assert listed[("ip_addresses", "8.8.*.*")] == ("people/contacts.txt", 4)
    text = repr(found)
    for secret in ("jane.doe", "7946 0958", "4111 1111 1111 1111", "WEST 1234", "123-45-6789", "12345678Z"):
        assert secret not in text  # masked everywhere it is stored


def test_counts_are_complete_when_the_list_is_capped():
    found = find_personal_data([_doc(f"user{i}@example.org\n" * 1) for i in range(30)], max_listed=5)
    assert found["counts"]["emails"] == 30 and len(found["findings"]) == 5 and not found["listed_all"]


def test_counts_read_as_words():
    assert describe_counts({"emails": 3, "ibans": 1, "phone_numbers": 0}) == "3 e-mail addresses, 1 IBAN"
    assert mask("payment_cards", "5500-0000-0000-0004") == "****-****-****-0004"
