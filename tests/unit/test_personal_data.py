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


# From technical text: bare digit runs a phone matcher accepts (3232235521 is 192.168.1.1 as an integer,
# 2147483647 is 2**31 - 1, 0306406152 an ISBN-10) among hashes, versions, timestamps and addresses.
TECHNICAL = """The address 192.168.1.1 is 3232235521 as an integer; a 32-bit signed int stops at 2147483647.
An unsigned one holds up to 4294967295 and os.read(fd, 2147483648) fails; the file's CRC-32 is 3632233996.
Built at 1700000000 (a Unix timestamp) with Python 3.12.1 on Windows 10.0.19045.3693, from 10.0.0.12.
ISBN 0306406152, also 978-0-306-40615-7; commit 3f786850e387550fdab836ed7e6dc881de23001b.
sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855, decimal digest 16406154571934226945.
"""

# Real numbers: grouped as written, international, or a bare run with a telephone word near it.
PHONES = ["Tel: 020 7946 0958", "+44 20 7946 0958", "(415) 555-2671", "415.555.2671", "+14155552671",
          "call 4155552671 after nine", "For the weekend rota ask Jane Doe: 4155552671 (mobile)",
          "Tel: 02079460958", "Contact: Jane Doe, 4155552671"]


def test_bare_digit_runs_in_technical_text_are_not_phone_numbers():
    found = find_personal_data([_doc(TECHNICAL, "reference/datamodel.rst")])
    assert sum(found["counts"].values()) == 0, found["findings"]
    assert find_personal_data([_doc("version 1.2.3.4")])["counts"]["phone_numbers"] == 0


def test_grouped_numbers_and_bare_ones_near_a_telephone_word_are_phone_numbers():
    for line in PHONES:
        assert find_personal_data([_doc(line)])["counts"]["phone_numbers"] == 1, line
    # the same digits with nothing about a telephone near them: a number, not a phone
    assert find_personal_data([_doc("seed 4155552671")])["counts"]["phone_numbers"] == 0
    for far in ("Call the office any weekday, or write; the batch size is 4155552671",
                "The batch size is 4155552671 and nothing on this line is about a phone"):
        assert find_personal_data([_doc(far)])["counts"]["phone_numbers"] == 0, far
