"""The census-income data schema shared by every job and by the sample-data generator.

Column names and label values follow the KDD census-income extract (UCI "Census-Income
(KDD)"): its values carry a leading space (`" Private"`), its labels are `" - 50000."` and
`" 50000+."`, and `?` marks a missing value. The extract itself has no header row; its 42
columns come in the order of `KDD_COLUMNS`.
"""

from __future__ import annotations

LABEL = "income"

# The label strings exactly as they appear in the extract (leading space included).
LABEL_NEGATIVE = " - 50000."
LABEL_POSITIVE = " 50000+."

# Numeric columns turned into bins by the preprocessor.
BINNED = ("age", "num persons worked for employer")
# Numeric columns standardised by the preprocessor.
SCALED = ("capital gains", "capital losses", "dividends from stocks")
# Categorical columns one-hot encoded by the preprocessor.
CATEGORICAL = ("education", "major industry code", "class of worker")

NUMERIC = BINNED + SCALED
FEATURES = (
    "age",
    "education",
    "major industry code",
    "class of worker",
    "num persons worked for employer",
    "capital gains",
    "capital losses",
    "dividends from stocks",
)
REQUIRED = (*FEATURES, LABEL)

# The 42 columns of the headerless KDD extract (census-income.data / census-income.test),
# in file order. Only the columns in REQUIRED are used; the others are read and ignored.
KDD_COLUMNS = (
    "age",
    "class of worker",
    "detailed industry recode",
    "detailed occupation recode",
    "education",
    "wage per hour",
    "enroll in edu inst last wk",
    "marital stat",
    "major industry code",
    "major occupation code",
    "race",
    "hispanic origin",
    "sex",
    "member of a labor union",
    "reason for unemployment",
    "full or part time employment stat",
    "capital gains",
    "capital losses",
    "dividends from stocks",
    "tax filer stat",
    "region of previous residence",
    "state of previous residence",
    "detailed household and family stat",
    "detailed household summary in household",
    "instance weight",
    "migration code-change in msa",
    "migration code-change in reg",
    "migration code-move within reg",
    "live in this house 1 year ago",
    "migration prev res in sunbelt",
    "num persons worked for employer",
    "family members under 18",
    "country of birth father",
    "country of birth mother",
    "country of birth self",
    "citizenship",
    "own business or self employed",
    "fill inc questionnaire for veteran's admin",
    "veterans benefits",
    "weeks worked in year",
    "year",
    "income",
)

# The extract's marker for a missing value.
MISSING_MARKER = "?"


def _label_key(value: str) -> str:
    # " - 50000.", "- 50000.", "-50000" and " - 50000" all mean the same label.
    return value.strip().rstrip(".").replace(" ", "")


# 0/1 are accepted too, so a file whose labels were already encoded reads back unchanged.
_LABEL_CODES = {
    _label_key(LABEL_NEGATIVE): 0,
    _label_key(LABEL_POSITIVE): 1,
    "0": 0,
    "1": 1,
}


def label_code(value: str) -> int | None:
    """Return 0 or 1 for a label string of the extract, or None when it is not a label."""
    return _LABEL_CODES.get(_label_key(value))
