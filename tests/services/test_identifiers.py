"""The one rule for site and meter ids (:mod:`cei.services.identifiers`)."""

import pytest

from cei.services.identifiers import (
    MAX_ID_LENGTH,
    InvalidIdentifier,
    check_identifier,
    identifier_problem,
    lookup_form,
)


@pytest.mark.parametrize(
    "value",
    ["site-22", "Werk München #2 ✓", "工場-1", "x" * MAX_ID_LENGTH, "a b", "'; DROP TABLE x"],
)
def test_acceptable_ids_pass_unchanged(value):
    assert check_identifier(value) == value
    assert lookup_form(value) == value


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "blank"),
        ("   ", "blank"),
        (" lead", "space"),
        ("trail\u00a0", "space"),
        ("a/b", "'/'"),
        ("..", "'/'"),
        ("nul\x00", "control"),
        ("bell\x07", "control"),
        ("c1\x85", "control"),
        ("rtl\u202e", "bidirectional"),
        ("isolate\u2066", "bidirectional"),
        ("lone\ud800", "UTF-8"),
        ("x" * (MAX_ID_LENGTH + 1), "at most"),
        (7, "string"),
    ],
)
def test_unacceptable_ids_are_refused_with_a_reason(value, words):
    problem = identifier_problem(value, "site_id")
    assert problem.startswith("site_id") and words in problem
    with pytest.raises(InvalidIdentifier):
        check_identifier(value, "site_id")
    assert lookup_form(value) is None


def test_ids_are_stored_in_nfc_form_and_measured_there():
    decomposed = "Citta\u0300"
    assert check_identifier(decomposed) == "Città"
    assert lookup_form(decomposed) == "Città"
    # 100 composed characters written decomposed are 200 code points, yet within the limit.
    assert check_identifier("a\u0300" * MAX_ID_LENGTH) == "à" * MAX_ID_LENGTH
