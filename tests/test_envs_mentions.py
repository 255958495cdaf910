"""Diagnosis mentions from clinical phrasing (hand-written examples of each grammatical form)."""

from __future__ import annotations

import pytest

from medaction.envs.mentions import Mention, diagnosis_mentions, normalise_diagnosis, primary_mention


def heads(text: str) -> list[str]:
    return [m.head for m in diagnosis_mentions(text)]


def test_normaliser_spelling_case_possessive_punctuation() -> None:
    assert normalise_diagnosis("Haemolytic Anaemia") == normalise_diagnosis("hemolytic anemia") == "hemolytic anemia"
    assert normalise_diagnosis("Crohn's disease") == normalise_diagnosis("Crohn disease")
    assert normalise_diagnosis("Graves’ disease") == "graves disease"
    assert normalise_diagnosis("Non-Hodgkin  lymphoma.") == "non hodgkin lymphoma"
    assert normalise_diagnosis("Oesophageal tumour") == "esophageal tumor"
    assert normalise_diagnosis("β-thalassaemia") == "beta thalassemia"
    assert normalise_diagnosis("Amoebic colitis") == normalise_diagnosis("amebic colitis")
    assert normalise_diagnosis("Paediatric amenorrhoea") == "pediatric amenorrhea"
    assert normalise_diagnosis("") == ""


@pytest.mark.parametrize(
    "text, head",
    [
        ("The patient was diagnosed with Kikuchi disease based on lymph node biopsy.", "Kikuchi disease"),
        ("The patient was ultimately diagnosed with **Wilson disease**.", "Wilson disease"),
        ("A 34-year-old woman was found to have sarcoidosis.", "sarcoidosis"),
        ("Final diagnosis: Takayasu arteritis", "Takayasu arteritis"),
        ("Most likely diagnosis - Brucellosis", "Brucellosis"),
        ("The final diagnosis is hereditary angioedema, confirmed by low C1 inhibitor levels.", "hereditary angioedema"),
        ("Marfan syndrome was diagnosed after genetic testing.", "Marfan syndrome"),
        ("The diagnosis of amyloidosis was established by fat pad biopsy.", "amyloidosis"),
        ("Pheochromocytoma is the final diagnosis.", "Pheochromocytoma"),
        ("Likely viral myocarditis", "viral myocarditis"),
        ("Findings consistent with pulmonary embolism", "pulmonary embolism"),
        ("Hepatic abscess as evidenced by CT findings", "Hepatic abscess"),
    ],
)
def test_preambles_and_justifications_are_removed(text: str, head: str) -> None:
    assert heads(text)[0] == head


@pytest.mark.parametrize(
    "text, head, causes",
    [
        ("Septic arthritis secondary to Staphylococcus aureus", "Septic arthritis", ("Staphylococcus aureus",)),
        ("Hypercalcemia due to sarcoidosis", "Hypercalcemia", ("sarcoidosis",)),
        ("Rhabdomyolysis caused by statin therapy", "Rhabdomyolysis", ("statin therapy",)),
        ("Nephrotic syndrome with acute kidney injury", "Nephrotic syndrome", ("acute kidney injury",)),
        ("Ketoacidosis in the setting of SGLT2 inhibitor use", "Ketoacidosis", ("SGLT2 inhibitor use",)),
        ("Pancreatitis due to gallstones with pseudocyst", "Pancreatitis", ("gallstones", "pseudocyst")),
    ],
)
def test_head_and_causes(text: str, head: str, causes: tuple[str, ...]) -> None:
    m = diagnosis_mentions(text)[0]
    assert (m.head, m.causes) == (head, causes)
    assert m.text == text


def test_abbreviation_and_alias_in_brackets() -> None:
    m = primary_mention("Post-viral Brachial Neuritis (PVBN)")
    assert m is not None and m.head == "Post-viral Brachial Neuritis" and m.abbreviation == "PVBN"
    m = primary_mention("Stress cardiomyopathy (apical ballooning syndrome) due to emotional stress")
    assert m is not None and m.head == "Stress cardiomyopathy" and m.abbreviation is None
    assert m.aliases == ("apical ballooning syndrome",) and m.causes == ("emotional stress",)
    m = primary_mention("XYZ (Some long disease name)")
    assert m is not None and m.abbreviation is None and m.aliases == ("Some long disease name",)


def test_markdown_bullets_headings_and_numbered_differential() -> None:
    text = """### Answer:
**1. Primary: Acute intermittent porphyria**
2. *Lead poisoning*
- Guillain-Barre syndrome
* Hereditary coproporphyria
"""
    assert heads(text) == ["Acute intermittent porphyria", "Lead poisoning", "Guillain-Barre syndrome",
                           "Hereditary coproporphyria"]


def test_several_diagnoses_in_one_line_keep_their_order() -> None:
    assert heads("Tuberculous meningitis vs. cryptococcal meningitis") == ["Tuberculous meningitis",
                                                                           "cryptococcal meningitis"]
    assert heads("Lyme carditis; sarcoidosis") == ["Lyme carditis", "sarcoidosis"]
    assert heads("Behcet disease or Crohn disease") == ["Behcet disease", "Crohn disease"]


def test_later_sentences_count_only_when_they_state_a_diagnosis() -> None:
    text = "Dermatomyositis with interstitial lung disease. The biopsy showed perifascicular atrophy. Diagnosis " \
           "confirmed based on myositis antibodies."
    assert heads(text) == ["Dermatomyositis"]
    assert heads("Fever and rash in a traveller. The final diagnosis was dengue fever.") == [
        "Fever and rash in a traveller", "dengue fever"]


def test_abbreviated_genus_does_not_end_a_sentence() -> None:
    m = primary_mention("Meningitis caused by E. coli in a neonate")
    assert m is not None and m.head == "Meningitis" and m.causes[0].startswith("E. coli")


def test_empty_and_noise() -> None:
    assert diagnosis_mentions("") == []
    assert diagnosis_mentions("   \n---\n") == []
    assert diagnosis_mentions("Final diagnosis:") == []


def test_mention_is_a_frozen_struct() -> None:
    m = Mention(text="x", head="x")
    with pytest.raises(AttributeError):
        m.head = "y"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, head",
    [
        # any short subject before "was diagnosed with"
        ("The newborn was diagnosed with a sacrococcygeal teratoma based on imaging.", "sacrococcygeal teratoma"),
        ("The patient’s fetus was diagnosed with tetrasomy 18p.", "tetrasomy 18p"),
        # "the diagnosis for <who> is"
        ("The final diagnosis for all three patients is carpal boss, characterized by bony bumps.", "carpal boss"),
        ("The likely diagnosis for both cases is drug-induced lupus.", "drug-induced lupus"),
        # a name holding a connector word, spelled out by the abbreviation after it
        ("Granulomatosis with polyangiitis (GPA) presenting as ocular involvement", "Granulomatosis with polyangiitis"),
        ("Renal-limited granulomatosis with polyangiitis (GPA) with crescentic glomerulonephritis",
         "Renal-limited granulomatosis with polyangiitis"),
        # ... but not when the abbreviation spells only the part before the connector
        ("Polycythemia vera (PV) with acute coronary syndrome", "Polycythemia vera"),
    ],
)
def test_subjects_and_names_spanning_a_connector(text: str, head: str) -> None:
    assert heads(text)[0] == head


def test_name_spanning_a_connector_keeps_the_complication_as_cause() -> None:
    m = primary_mention("Granulomatosis with polyangiitis (GPA) with crescentic glomerulonephritis")
    assert m is not None and m.abbreviation == "GPA" and m.causes == ("crescentic glomerulonephritis",)


def test_more_sentence_forms() -> None:
    from medaction.envs.mentions import primary_mention

    # a label sentence ending the line: the diagnosis is on the next (numbered, bold) line
    m = primary_mention("The final diagnosis is:\n1. **Postpartum Hemorrhage** secondary to uterine atony")
    assert m is not None and m.head == "Postpartum Hemorrhage" and m.causes == ("uterine atony",)
    m = primary_mention("The patient has **Sjogren syndrome**, with dry eyes.")
    assert m is not None and m.head == "Sjogren syndrome"
    # leading comma adjectives are qualifiers, the noun phrase after them is the head
    m = primary_mention("Multi-segmental, extensive, very early onset Crohn's disease (CD) with granulomas")
    assert m is not None and m.head == "very early onset Crohn's disease" and "extensive" in m.qualifiers
    assert primary_mention("Acute, severe pancreatitis").head == "severe pancreatitis"
    assert primary_mention("Crohn disease, ileal").head == "Crohn disease"  # a trailing qualifier stays one
    # how it was found is no part of the name
    m = primary_mention("Localized ureteral amyloidosis incidentally detected during evaluation for lymphoma.")
    assert m is not None and m.head == "Localized ureteral amyloidosis"


def test_an_adverb_and_adjective_before_a_comma_qualify_the_head() -> None:
    m = diagnosis_mentions("Moderately advanced, p16-negative oral squamous cell carcinoma (T4aN0M0) involving the tongue")[0]
    assert m.head.startswith("p16-negative oral squamous cell carcinoma") and "Moderately advanced" in m.qualifiers
