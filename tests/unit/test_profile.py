"""The corpus profile: near duplicates found by MinHash, exact copies counted apart."""

from advisor.corpus.loading import Document
from advisor.corpus.profile import near_duplicates, profile_documents

FERRY = ("The morning ferry leaves Berth 5 at 07:15 and calls at Oskary, Vellmar and the outer islands before "
         "returning to the harbour by noon. In fog it takes the Inner Channel, which adds eighteen minutes, and "
         "the harbour master posts the change on the board by the ticket office.")
OTHER = ("The island council pays part of every resident's fare under the 1987 lifeline agreement, and the "
         "subsidy is reviewed each spring when the timetable for the summer season is drawn up by the operator.")


def _doc(source, text):
    return Document(id=source, source=source, text=text)


def test_a_one_character_change_is_a_near_duplicate_and_an_exact_copy_is_not_counted_twice():
    documents = [_doc("a.md", FERRY), _doc("b.md", FERRY.replace("07:15", "07:16")), _doc("c.md", OTHER),
                 _doc("d.md", FERRY)]
    found = near_duplicates(documents)
    assert [(p["first"], p["second"]) for p in found["pairs"]] == [("a.md", "b.md"), ("b.md", "d.md")]
    assert found["documents"] == 2 and 0 < found["share_of_characters"] < 1
    assert all(p["similarity"] >= found["threshold"] for p in found["pairs"])
    profile = profile_documents(documents)
    assert profile["exact_duplicates"] == 1 and profile["near_duplicates"]["documents"] == 2


def test_different_documents_are_not_near_duplicates():
    assert near_duplicates([_doc("a.md", FERRY), _doc("c.md", OTHER), _doc("e.md", "Short note.")])["pairs"] == []
