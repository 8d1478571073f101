"""Which committed segment carries each sentence of a monologue (bench.monologue's lag)."""

from bench.monologue import carrying_segments

SCRIPT = ["The train leaves at eight.", "We should start the project next week.", "Thank you."]


def test_a_clean_transcript_maps_each_sentence_to_its_segment():
    segments = [
        "The train leaves at eight.",
        "We should start the project next week.",
        "Thank you.",
    ]
    assert carrying_segments(SCRIPT, segments) == [0, 1, 2]


def test_a_last_word_committed_with_the_next_segment_is_no_delay():
    segments = [
        "The train leaves at",
        "eight. We should start the project next",
        "week. Thank you.",
    ]
    assert carrying_segments(SCRIPT, segments) == [0, 1, 2]


def test_missed_words_do_not_push_later_sentences_into_later_segments():
    # Two words of the first sentence were never heard: counting words would put the second
    # sentence's end in the third segment.
    segments = ["The train eight.", "We should start the project next week.", "Thank you."]
    assert carrying_segments(SCRIPT, segments) == [0, 1, 2]


def test_misheard_words_still_align_by_position():
    segments = ["A rain leaves at ate.", "We should star the project next weak.", "Thank you."]
    assert carrying_segments(SCRIPT, segments) == [0, 1, 2]


def test_a_sentence_never_heard_is_carried_by_no_segment():
    assert carrying_segments(SCRIPT, []) == [None, None, None]


def test_a_sentence_missed_whole_is_carried_with_what_follows_it_or_by_nothing():
    segments = ["The train leaves at eight.", "Thank you."]  # the second sentence never heard
    assert carrying_segments(SCRIPT, segments) == [0, 1, 1]
    assert carrying_segments(SCRIPT, ["The train leaves at eight."]) == [0, None, None]
