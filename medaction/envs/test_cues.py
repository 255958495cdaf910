"""Lexical cues that a phrase names a diagnostic test (used to split and name MedR-Bench ancillary findings)."""

from __future__ import annotations

import re

# Head words/phrases of test names. Order does not matter: the regex takes the earliest, then longest, match.
_CUES = r"""
complete blood count|full blood count|blood count|blood tests?|blood investigations?|blood cultures?|blood smear|
blood gas|urine tests?|urinalysis|urine cultures?|stool (?:tests?|cultures?|pcr|examination)|
(?:routine |laboratory |lab )?(?:tests?|investigations?|workup|work-up|results|findings|panel)|labs?|
laboratory|biochemi\w+|serolog\w+|serum [\w-]+|cultures?|pcr|rt-pcr|mngs|sequencing|genetic (?:testing|analysis|tests?)|
exome|genome|karyotyp\w*|microarray|fish|immunohistochemi\w*|ihc|immunofluorescence|immunostain\w*|histolog\w*|
\w*patholog\w*|cytolog\w*|biopsy|biopsies|fnac|fna|fine[- ]needle aspiration\w*|aspirates?|smear|
stains?|staining|microscopy|flow cytometry|electrophoresis|
ct|cect|ncct|hrct|cta|ct angiogra\w+|computed tomography|tomography|mri|mra|mrcp|magnetic resonance\w*|
pet(?:-ct|/ct)?|x-rays?|xrays?|radiograph\w*|radiolog\w*|imaging|ultrasound|ultrasonograph\w*|sonograph\w*|
usg|pocus|doppler|echocardiogra\w+|echo|tte|tee|ecg|ekg|electrocardiogra\w+|eeg|electroencephalogra\w+|emg|
electromyogra\w+|nerve conduction\w*|ncs|electroretinogra\w+|angiogra\w+|venogra\w+|scintigra\w+|
bone scan|mammogra\w+|densitometr\w+|dexa|fundoscop\w+|oct|endoscop\w+|colonoscop\w+|bronchoscop\w+|
cystoscop\w+|laparoscop\w+|laparotom\w+|egd|gastroscop\w+|lumbar puncture|csf|cerebrospinal fluid|
thoracentesis|paracentesis|arthrocentesis|bronchoalveolar lavage|balf|spirometr\w+|pulmonary function\w*|
polysomnogra\w+|audiogra\w+|audiometr\w+|[\w-]+ tests?|[\w-]+ levels?|[\w-]+ assays?|[\w-]+ screening|
[\w-]+ profile|[\w-]+ markers?|enzymes?|troponins?|hormones?|antibod\w+|autopsy|surgical findings|
intraoperative findings|cardiotocograph\w*|ctg|orthopantomogra\w+|opg|cbct|cone beam computed tomography|
[\w-]+ enzymes|[\w-]+ analysis|tumou?r markers?|mantoux|tuberculin|crp|esr|procalcitonin|d-dimer|hba1c|tsh|inr|aptt|ldh|
hcg|β-hcg|beta-hcg
"""
CUE_RE = re.compile(r"\b(?:" + "".join(_CUES.split("\n")).replace("\n", "") + r")\b", re.IGNORECASE)

# Verbs that end the name part of "X revealed Y" sentences.
VERB_RE = re.compile(
    r"\s+(?:revealed|reveals|revealing|showed|shows|showing|shown|demonstrated|demonstrates|demonstrating|identified|"
    r"identifying|confirmed|confirming|indicated|indicating|detected|suggested|suggesting|suggestive|was|were|is|are|"
    r"found|noted|disclosed|displayed|yielded|returned|excluded|ruled|consistent|performed|measured|evaluated|"
    r"include|includes|noting|documented|remained|came|highlighted|with)\b",
    re.IGNORECASE,
)

_STATUS = re.compile(
    r"^(?:(?:normal|abnormal|elevated|increased|decreased|raised|low|high|mild(?:ly)?|markedly|negative|positive|"
    r"further|routine|a|an|the|no|other|and|significantly|slightly|"
    r"persistent|weakly|strongly)\s+)+",
    re.IGNORECASE,
)


def find_cue(text: str) -> re.Match[str] | None:
    return CUE_RE.search(text)


def strip_status(phrase: str) -> str:
    """'Normal complete blood count' -> 'complete blood count' (status words are results, not names)."""
    return _STATUS.sub("", phrase).strip()
