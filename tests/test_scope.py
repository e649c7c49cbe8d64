"""The country check: a question about one country is not answered from another's texts."""

from __future__ import annotations

import pytest

from assistant.scope import unmatched_countries
from assistant.settings import PROJECT_ROOT

COUNTRIES = PROJECT_ROOT / "corpus" / "country-codes" / "country-codes.csv"
BRAZIL = ["Brazil applies import duties on most manufactured goods; tariffs are high."]


@pytest.mark.parametrize(
    ("question", "passages", "unmatched"),
    [
        ("What import duties does Japan charge on machinery?", BRAZIL, ["japan"]),
        ("What import duties does Brazil charge on machinery?", BRAZIL, []),
        ("Do Brazilian buyers pay import duties?", BRAZIL, []),  # an adjective names it too
        ("Which duties apply in the United Arab Emirates?", BRAZIL, ["united arab emirate"]),
        (
            "Which duties apply in the United Arab Emirates?",
            ["Goods entering the UAE (United Arab Emirates)"],
            [],
        ),
        ("How do I fill in a commercial invoice?", BRAZIL, []),  # no country asked about
    ],
)
def test_countries_asked_about_must_be_in_the_passages(question, passages, unmatched):
    assert unmatched_countries(question, passages, COUNTRIES) == unmatched
