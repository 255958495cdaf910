"""The clinical words the diagnosis linker reasons with, and pure helpers over word lists (no graph, no I/O).

Word lists are general clinical vocabulary (modifiers, sites, broad classes, stage values), never entries for
particular cases; docs/notes/linking.md says how the linker uses each.
"""

from __future__ import annotations

import re

from medaction.scoring.linker import GENERIC

# Organ adjectives -> the noun node names also use ("Neoplasm of the lung" = "pulmonary neoplasm").
ORGAN = {
    "pulmonary": "lung", "renal": "kidney", "nephric": "kidney", "hepatic": "liver", "cardiac": "heart",
    "cerebral": "brain", "cutaneous": "skin", "dermal": "skin", "gastric": "stomach", "ocular": "eye",
    "ovarian": "ovary", "uterine": "uterus", "colonic": "colon", "esophageal": "esophagus", "pancreatic": "pancreas",
    "splenic": "spleen", "vesical": "bladder", "testicular": "testis", "prostatic": "prostate", "mammary": "breast",
    "intestinal": "bowel", "intestine": "bowel", "enteric": "bowel", "tumour": "tumor", "neoplasm": "tumor",
    "neoplasia": "tumor", "tumors": "tumor", "oral": "mouth", "endometrial": "endometrium", "thyroidal": "thyroid",
    "adrenal": "adrenal",
}
# Words a node name may carry beyond the head's words ("Sick sinus" -> "Sick sinus syndrome").
NODE_EXTRA = frozenset("of the a an and in on with disease disorder syndrome condition nos unspecified onset".split())
# Head words that never decide a match on their own (function words).
STOP = frozenset("of the a an and in on at to for by with from within without its their his her".split())
# Head words a node may lack: site, laterality, severity, course, onset, certainty, stage/grade, complication state.
FREE = frozenset("""
left right bilateral unilateral both sided side lateral medial anterior posterior superior inferior proximal distal
upper lower central peripheral main mild moderate severe severely fulminant massive extensive advanced significant
acute chronic subacute hyperacute early late recurrent relapsing refractory persistent transient intermittent
new onset adult childhood pediatric juvenile infantile neonatal congenital acquired sporadic
isolated solitary single multiple focal diffuse localized generalized disseminated
widespread primary metastatic concomitant concurrent coexisting simultaneous synchronous atypical typical
classic classical benign suspected probable likely possible presumed presumptive definite confirmed clinical
stage grade class low intermediate high figo who type variant form subtype infected complicated uncomplicated
ruptured strangulated incarcerated perforated obstructed obstructive symptomatic asymptomatic incidental
spontaneous idiopathic true giant small large huge first second third fourth fifth spectrum gleason score congenita
mature immature differentiated dedifferentiated undifferentiated well poorly cystic solid unicystic kappa lambda
traumatic posttraumatic iatrogenic postoperative postsurgical multifactorial deep superficial invasive
""".split())
# Nouns too broad to be reached by dropping words: "fetal bowel anomaly" is not "Fetal anomaly".
BROAD = GENERIC | frozenset("""anomaly malformation mass cyst nodule defect abnormality hernia fracture injury ulcer
aneurysm fistula stenosis obstruction effusion hemorrhage bleeding dysplasia hyperplasia atrophy edema necrosis
calcification fetal hypertension hypotension""".split())
# Classes a backed-off subtype never lands on alone: "myofibroblastic sarcoma" is not just "Sarcoma", a yolk sac
# tumour of the liver not "Neoplasm of the liver".
CLASS = BROAD | frozenset("abscess sarcoma lymphoma leukemia adenoma infection inflammation dislocation lesion fever"
                           .split())
# Head nouns whose parent class the back-off may name instead ("endometrioid adenocarcinoma" -> "Endometrial carcinoma").
PARENT_WORD = {"adenocarcinoma": "carcinoma", "carcinoma": "cancer"}
# An organ's carcinoma/cancer is a named entity a subtype may back off to ("prostatic adenocarcinoma" -> "Prostate
# cancer"), unlike an organ's "Neoplasm" or "Tumor", which covers every kind of growth there.
ORGAN_CANCER = frozenset("carcinoma cancer".split())
POSSESSIVE = re.compile(r"([a-z]+)['\u2019]s\b")
HYPHENATED = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+")
ADJ_WORD = re.compile(r"^[a-z]+(?:al|ic|ous|ary|ar|ive)$")  # "gastrointestinal" alone names no diagnosis
TAIL = frozenset("of in at on within involving affecting localized localised located confined during".split())
CAUSE_MARK = frozenset("related induced associated mediated triggered dependent".split())
ADVERB = re.compile(r"^[a-z]{3,}(?:ally|ately|ively|ously)$")
# Anatomical sites: droppable unless the graph names the site-specific concept ("pulmonary hypertension").
SITES = frozenset("""
stomach liver kidney lung heart brain skin eye ovary uterus colon esophagus pancreas spleen bladder testis prostate
breast bowel mouth thyroid parathyroid pituitary adrenal intracranial intramedullary intramuscular intraosseous
subcutaneous mucosal submucosal nasal nasopharyngeal pharyngeal laryngeal gland glands placental
tracheal bronchial endobronchial duodenal jejunal ileal rectal anal appendiceal cecal sigmoid ascending descending
transverse biliary gallbladder cervical vaginal vulvar penile glans scrotal urethral ureteral orbital periorbital
retinal choroidal conjunctival corneal palpebral eyelid auricular ear mandibular mandible maxillary maxilla palatal
palate lingual tongue parotid salivary submandibular sublingual thoracic mediastinal pleural pericardial
peritoneal retroperitoneal mesenteric omental abdominal pelvic sacral sacrococcygeal coccygeal lumbar
vertebral spinal spine femoral femur tibial tibia fibular humeral humerus radial ulnar cranial skull facial face
scalp hand foot finger toe thigh arm forearm leg knee shoulder hip elbow wrist ankle chest neck head gluteal
inguinal axillary bone osseous muscle muscular joint soft tissue tissue umbilical frontal temporal phalanx
metacarpal metatarsal digit parietal occipital lobe cerebellar brainstem midbrain pontine ventricle wall cavity
sternal sternum costal rib clavicular clavicle patellar calcaneal iliac ischial pubic
region area site neuro parenchymal synovial thalamic ventricular atrial
""".split())
# Bones: a disease "of the rib" is a disease of bone ("Fibrous dysplasia of bone", "Giant cell tumor of bone").
BONES = frozenset("""rib femur tibia fibula humerus radius ulna skull mandible maxilla vertebra clavicle scapula
sternum pelvis calcaneus talus phalanx metacarpal metatarsal patella ilium ischium pubis sacrum coccyx""".split())
MODIFIERS = FREE | SITES
SITE_PREFIX = re.compile(r"^(?:intra|extra|peri|para|juxta|retro|sub|supra|infra)(?=[a-z]{4})")
# "para-ovarian", "peri-renal": a site beside the organ, never the organ itself (joined into one word)
BESIDE = re.compile(r"\b(para|peri|juxta)-(?=[a-z]{4})", re.I)
STAGE = frozenset("stage grade class figo who type group gleason score".split())  # a token after these is droppable ...
KEEP_AFTER = frozenset("type group".split())  # ... except a type/group number, which names a subtype
# TNM staging ("pT2N0R0", "T4aN0M0", "ypT1b"): droppable like any stage
TNM = re.compile(r"^(?:[ycpra]{1,2})?t(?:[0-4x]|is)[a-d]?(?:n[0-3x][a-c]?)?(?:m[01x][a-c]?)?(?:r[0-2x])?$")
STAGE_VALUE = re.compile(r"^(?:\d+[a-z]?|[ivx]+[a-c]?|[a-d]\d?|\d+[a-z]\d?)$")
ROMAN = {"ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8", "ix": "9", "x": "10"}
METASTASIS = frozenset("metastasis metastases metastatic deposit deposits seeding spread involvement tract needle "
                        "secondary secondaries recurrence".split())

# Code-system residual qualifiers in node names are no content: "Pneumonia, unspecified organism" = pneumonia
RESIDUAL = re.compile(r"\s(?:unspecified(?:\s(?:organism|site|type|cause))?|without\scomplications?|"
                       r"not\selsewhere\sclassified|nos|nec)\b")


# Pathogen adjectives whose disease name is not their stem + "-osis" ("fibrous" -> "fibrosis" must not be formed).
PATHOGEN_ADJ = {"tuberculous": "tuberculosis", "candidal": "candidiasis", "amebic": "amebiasis",
                "amoebic": "amebiasis", "filarial": "filariasis", "hydatid": "echinococcosis",
                "echinococcal": "echinococcosis", "cryptococcal": "cryptococcosis", "mycobacterial": "mycobacteriosis"}
_GENUS_END = re.compile(r"(?<=[a-z]{4})(?:a|es|is|um|(?<!o)us)$")  # listeria, actinomyces, ascaris, aspergillus
# Spread beyond one organ: a disseminated infection is at sites other than any one excluded ("extrapulmonary").
DISSEMINATED = frozenset("disseminated miliary".split())
# Lesion nouns that name their organ, for site rules on infections ("tuberculous pneumonia" is pulmonary).
LESION_SITE = {"pneumonia": "lung", "pneumonitis": "lung", "bronchopneumonia": "lung"}


def infection_forms(w: str) -> list[str]:
    """Disease words a pathogen word may name, by the genus -> "-osis"/"-iasis" convention (listeria ->
    listeriosis, nocardia -> nocardiosis, aspergillus -> aspergillosis, candida -> candidiasis, leishmania ->
    leishmaniasis) or the adjective table; the caller keeps only those its vocabulary holds."""
    if w in PATHOGEN_ADJ:
        return [PATHOGEN_ADJ[w]]
    stem = _GENUS_END.sub("", w)
    if stem == w:
        return []
    return [stem + "osis", stem + "iasis", *([stem + "asis"] if stem.endswith("i") else [])]


def head_noun(toks: list[str], free: set[str]) -> str | None:
    """The noun a match must keep: the last content word before a locative tail ("irritable bowel syndrome" -> bowel,
    so it never becomes "Irritability"; "carcinoid tumor of the lung" -> tumor)."""
    cut = next((i for i, w in enumerate(toks) if i and w in TAIL), len(toks))  # "X of / in the left eye"
    for w in reversed(toks[:cut]):
        if w not in free and w not in STOP and w not in NODE_EXTRA and not w.isdigit():
            return w
    return None


def last_word(toks: list[str]) -> str | None:
    """The last word before a locative tail, "syndrome"/"disease" included: what kind of thing the name names."""
    cut = next((i for i, w in enumerate(toks) if i and w in TAIL), len(toks))
    for w in reversed(toks[:cut]):
        if w.isalpha() and len(w) > 1 and w not in STOP and w not in ROMAN and w not in FREE and not ADVERB.match(w):
            return w
    return None


def numerals(words: list[str]) -> list[str]:
    out = []
    for i, w in enumerate(words):
        if w in ROMAN and (len(w) > 1 or (i and words[i - 1] in STAGE)):
            w = ROMAN[w]
        elif w == "i" and i and words[i - 1] in STAGE:
            w = "1"
        out.append(w)
    return out


def singulars(w: str) -> list[str]:
    if len(w) <= 3:
        return []
    out = []
    if w.endswith("ies"):
        out.append(w[:-3] + "y")
    if w.endswith("ses"):
        out.append(w[:-2] + "is")  # metastases -> metastasis
    if w.endswith("es"):
        out.append(w[:-2])
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        out.append(w[:-1])
    if w.endswith("ae"):
        out.append(w[:-1])  # "metastasae" rare; "vertebrae" -> "vertebra"
    return out


def canon_map(vocab: set[str]) -> dict[str, str]:
    """Plural vocabulary words -> their singular when the singular is in the vocabulary too."""
    out: dict[str, str] = {}
    for w in vocab:
        for s in singulars(w):
            if s in vocab:
                out[w] = s
                break
    return out
