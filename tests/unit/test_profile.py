"""The corpus profile: near duplicates (MinHash), style, freshness, tokenizer splits and sampling."""

import pytest

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
    assert profile.exact_duplicates == 1 and profile.near_duplicates["documents"] == 2


def test_different_documents_are_not_near_duplicates():
    assert near_duplicates([_doc("a.md", FERRY), _doc("c.md", OTHER), _doc("e.md", "Short note.")])["pairs"] == []


# --- style, freshness, tokenizer splits and sampling, each on a corpus with known answers -------------------

HOUSE = ("## Notice {i}\n\n- Route: North Loop\n- Vessel: MV Ashgrove\n\nThe sailing at {i}:15 is cancelled. "
         "Passengers may travel on the next one. Tickets remain valid for seven days.\n")
PROSE = ["Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, "
         "and nothing particular to interest me on shore, I thought I would sail about a little and see the "
         "watery part of the world, which is a way I have of driving off the spleen and regulating the circulation.",
         "| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode()\n```\nShort.",
         "Yes. No. Maybe so. It rained. We left.\n\n" * 3]


def test_a_house_style_is_consistent_and_a_mix_of_kinds_is_not():
    from advisor.corpus.style import document_style, style_signals

    house = style_signals([HOUSE.format(i=i) for i in range(6)])
    assert house["consistency"]["verdict"] == "consistent" and house["consistency"]["score"] > 0.9
    assert house["documents_using"]["headings"] == 1.0 and house["documents_using"]["lists"] == 1.0
    assert house["documents_using"]["tables"] == 0.0 and house["line_share"]["lists"] == pytest.approx(2 / 4)
    mixed = style_signals(PROSE + [HOUSE.format(i=1)])
    assert mixed["consistency"]["score"] < house["consistency"]["score"]
    assert mixed["consistency"]["verdict"] in ("mixed", "varied")
    table = document_style(PROSE[1])
    assert table.formats["tables"] == pytest.approx(3 / 7) and table.formats["code"] == pytest.approx(3 / 7)
    assert document_style(PROSE[2]).sentence_words == pytest.approx(1.6)  # 8 words, 5 sentences
    assert style_signals([])["documents"] == 0


def test_vocabulary_richness_does_not_fall_with_length():
    from advisor.corpus.style import vocabulary_richness

    words = PROSE[0].split()
    assert vocabulary_richness(words * 10) == pytest.approx(vocabulary_richness(words * 40), abs=0.02)
    assert vocabulary_richness(["the"] * 300) == pytest.approx(0.01)


def test_freshness_reads_dates_in_the_text_and_file_times():
    from advisor.corpus.freshness import dates_in, freshness

    found, years = dates_in("Refit from 2024-03-01 to 14 May 2024; the timetable of March 2025, and "
                            "since 1987 a trust runs it. Berth 2031 and 07:15 are no years; 31 February 2024 is no date.")
    assert [d.isoformat() for d in found] == ["2024-03-01", "2024-05-14", "2025-03-01"]
    assert years == [1987, 2031]  # bare years are counted apart: weaker hints
    docs = [Document("a.md", "a.md", "Updated 2 June 2025.", modified=1_700_000_000.0),
            Document("b.md", "b.md", "No date here.", modified=1_760_000_000.0)]
    fresh = freshness(docs, now=1_760_000_000.0 + 86_400)
    assert fresh["dates_in_text"] == {"count": 1, "documents": 1, "earliest": "2025-06-02", "latest": "2025-06-02",
                                      "by_year": {2025: 1}}
    assert fresh["file_times"]["oldest"] == "2023-11-14" and fresh["file_times"]["changed_last_30_days"] == 1


def test_token_counts_find_the_words_a_tokenizer_splits_into_many_pieces():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from advisor.corpus.profile import token_counts

    vocab = {c: i for i, c in enumerate("abcdefghijklmnopqrstuvwxyzVOS ")} | {"the": 40, "ferry": 41, "sails": 42}
    backend = Tokenizer(models.WordPiece(vocab, unk_token="S", continuing_subword_prefix=""))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend)
    counted = token_counts(tokenizer, ["the ferry sails to Vellmar", "the ferry sails"])
    # 'Vellmar' is 7 pieces, 'to' 2: one word of eight split into three or more.
    assert counted["tokens"] == 3 + 2 + 7 + 3
    assert counted["splits"]["share_split"] == pytest.approx(1 / 8)
    assert counted["splits"]["frequent_examples"] == ["Vellmar"]


def test_a_large_corpus_is_sampled_and_the_profile_says_how_much():
    docs = [Document(f"d{i}.md", f"d{i}.md", f"Document {i} says the ferry leaves at {i}:00. " * 50) for i in range(40)]
    full = profile_documents(docs)
    sampled = profile_documents(docs, sample_characters=len(docs[0].text) * 10)
    assert full.sampled is None
    assert sampled.sampled["documents"] == 10 and sampled.sampled["of_documents"] == 40
    assert 0.2 < sampled.sampled["share_of_characters"] < 0.3
    assert sampled.characters == full.characters and sampled.exact_duplicates == full.exact_duplicates
