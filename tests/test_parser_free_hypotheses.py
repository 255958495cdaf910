"""The parser's free-text path for hypotheses (policies/parsing/hypotheses.py): leading diagnosis + differential."""

from __future__ import annotations

import pytest

from medaction.policies.parsing.hypotheses import extract_hypotheses, leading_hypothesis


def names(text: str) -> list[str]:
    return [h.diagnosis for h in extract_hypotheses(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The ptosis and fatigable weakness are most consistent with myasthenia gravis.", ["myasthenia gravis"]),
        ("At first I thought of a stroke. However, the most likely diagnosis is Guillain-Barre syndrome given the "
         "ascending weakness.", ["Guillain-Barre syndrome"]),
        ("Hypothyroidism is the most likely explanation here.", ["Hypothyroidism"]),
        ("The TSH changes things; I suspect hypothyroidism now.", ["hypothyroidism"]),
        ("Leading diagnosis: sarcoidosis at this point.", ["sarcoidosis"]),
        ("The leading diagnosis is an acute appendicitis, with ovarian torsion less likely.", ["acute appendicitis"]),
        ("Differential diagnosis includes pneumonia, pulmonary embolism and heart failure. I suspect pulmonary "
         "embolism because of the tachycardia.", ["pulmonary embolism", "pneumonia", "heart failure"]),
        ("My differential:\n1. Lupus (40%)\n2. Rheumatoid arthritis\n3. Sarcoidosis\n\nNext I want ANA.",
         ["Lupus", "Rheumatoid arthritis", "Sarcoidosis"]),
        ("### Differential\n- Appendicitis\n- Ovarian torsion\n\n### Tests\n- CT abdomen",
         ["Appendicitis", "Ovarian torsion"]),
        ("1. **Orbital cellulitis:** strongly suspected.\n2. **Epidural empyema:** small.\n3. **Other conditions:** "
         "none fit.", ["Orbital cellulitis", "Epidural empyema"]),
        ("1. **Initial consideration**:\n - Differential diagnoses included aortitis, tuberculosis or malignancy.",
         ["aortitis", "tuberculosis", "malignancy"]),
        # the latest strong statement wins over an earlier one
        ("The most likely diagnosis is gout. After the tap, the leading diagnosis is septic arthritis.",
         ["septic arthritis"]),
    ],
)
def test_extracts_leading_and_differential(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize("text", ["", "The diagnosis is still unclear. Need more data.",
                                  "Order a CBC and a chest X-ray.", "{" * 5000, "most likely " * 3000])
def test_nothing_named_gives_nothing(text: str) -> None:
    assert extract_hypotheses(text) == () and leading_hypothesis(text) is None
