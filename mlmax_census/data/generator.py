"""A deterministic generator of census-like rows in the schema of the jobs.

The rows imitate the KDD census-income extract: about a quarter are children (no income,
"Not in universe" everywhere), adults get an education, a job or none, an industry and
an employer size, capital gains, losses and dividends are mostly zero, and about 6% earn
more than 50,000. Income depends on education, age, work, industry and capital income, so
a model has something to learn. `drift` moves the numeric columns (older people, more and
larger capital gains and dividends, bigger employers) so that monitoring has something to
flag.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from mlmax_census.jobs import schema

# Adult education levels with their share among adults and a score used for income.
EDUCATION = (
    (" Less than 1st grade", 0.005, -2.0),
    (" 1st 2nd 3rd or 4th grade", 0.01, -2.0),
    (" 5th or 6th grade", 0.02, -1.8),
    (" 7th and 8th grade", 0.05, -1.6),
    (" 9th grade", 0.03, -1.5),
    (" 10th grade", 0.04, -1.4),
    (" 11th grade", 0.04, -1.3),
    (" 12th grade no diploma", 0.015, -1.2),
    (" High school graduate", 0.33, -0.6),
    (" Some college but no degree", 0.19, -0.2),
    (" Associates degree-occup /vocational", 0.035, 0.0),
    (" Associates degree-academic program", 0.03, 0.1),
    (" Bachelors degree(BA AB BS)", 0.14, 0.9),
    (" Masters degree(MA MS MEng MEd MSW MBA)", 0.045, 1.4),
    (" Prof school degree (MD DDS DVM LLB JD)", 0.012, 2.2),
    (" Doctorate degree(PhD EdD)", 0.009, 1.9),
)
CHILD_EDUCATION = " Children"
NOT_IN_UNIVERSE = " Not in universe"
NO_INDUSTRY = " Not in universe or children"

# Class of worker for people with a job: share and effect on income.
WORKER_CLASSES = (
    (" Private", 0.72, 0.0),
    (" Self-employed-not incorporated", 0.085, 0.1),
    (" Local government", 0.075, 0.0),
    (" State government", 0.04, 0.0),
    (" Self-employed-incorporated", 0.033, 1.0),
    (" Federal government", 0.03, 0.5),
    (" Without pay", 0.017, -2.5),
)
# Industries for people with a job: share and effect on income.
INDUSTRIES = (
    (" Retail trade", 0.17, -0.8),
    (" Manufacturing-durable goods", 0.09, 0.3),
    (" Education", 0.08, -0.1),
    (" Manufacturing-nondurable goods", 0.07, 0.2),
    (" Finance insurance and real estate", 0.065, 0.6),
    (" Construction", 0.06, 0.1),
    (" Business and repair services", 0.06, 0.1),
    (" Medical except hospital", 0.05, 0.4),
    (" Public administration", 0.05, 0.4),
    (" Other professional services", 0.045, 0.5),
    (" Transportation", 0.045, 0.2),
    (" Hospital services", 0.04, 0.2),
    (" Wholesale trade", 0.037, 0.3),
    (" Agriculture", 0.03, -0.7),
    (" Personal services except private HH", 0.03, -0.8),
    (" Social services", 0.025, -0.6),
    (" Entertainment", 0.018, -0.3),
    (" Communications", 0.013, 0.6),
    (" Utilities and sanitary services", 0.013, 0.5),
    (" Private household services", 0.008, -1.5),
    (" Mining", 0.006, 0.7),
    (" Forestry and fisheries", 0.003, -0.5),
    (" Armed Forces", 0.002, 0.0),
)
# Persons worked for the employer (the extract codes 1-6 as size classes; 6 = 1000+).
EMPLOYER_SIZES = np.arange(1, 7)
EMPLOYER_SIZE_SHARES = np.array([0.13, 0.08, 0.10, 0.12, 0.12, 0.45])

CHILD_SHARE = 0.26
# Chosen so that about 6.2% of the rows are positive at drift 0 (the extract has 6.2%).
INCOME_INTERCEPT = -4.0


def _choose(rng: np.random.Generator, table: tuple, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw from (value, share, effect) rows: the values and their income effects."""
    shares = np.array([row[1] for row in table])
    picks = rng.choice(len(table), size=size, p=shares / shares.sum())
    values = np.array([row[0] for row in table], dtype=object)
    effects = np.array([row[2] for row in table])
    return values[picks], effects[picks]


def _capital_income(
    rng: np.random.Generator, adult: np.ndarray, richness: np.ndarray, drift: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Capital gains, losses and dividends: rare, more likely for the educated and the old,
    larger with drift."""
    n = len(adult)
    gains_chance = adult * (0.03 + 0.025 * richness) * (1 + 4 * drift)
    has_gains = rng.random(n) < np.clip(gains_chance, 0.0, 0.9)
    gains = rng.lognormal(8.0 + 0.3 * richness, 1.0, size=n) * (1 + drift)
    capital_gains = np.where(has_gains, np.minimum(gains, 99999), 0).round().astype(int)
    has_losses = rng.random(n) < adult * (0.02 + 0.01 * richness.clip(0, None))
    losses = rng.normal(1800 + 300 * drift, 350, size=n).clip(150, 4500)
    capital_losses = np.where(has_losses, losses, 0).round().astype(int)
    dividend_chance = adult * (0.10 + 0.05 * richness) * (1 + 2 * drift)
    has_dividends = rng.random(n) < np.clip(dividend_chance, 0.0, 0.9)
    dividends = rng.lognormal(5.5 + 0.5 * richness, 1.4, size=n) * (1 + drift)
    dividends_from_stocks = np.where(has_dividends, np.minimum(dividends, 99999), 0)
    dividends_from_stocks = dividends_from_stocks.round().astype(int)
    return capital_gains, capital_losses, dividends_from_stocks


def generate(rows: int, seed: int = 0, drift: float = 0.0) -> pd.DataFrame:
    """`rows` census-like rows with the columns of `schema.REQUIRED`, the same for a seed.

    `drift` >= 0 shifts the numeric distributions: 0 is the reference population, 1 a
    strongly drifted one.
    """
    if isinstance(rows, bool) or not isinstance(rows, int | np.integer) or rows < 1:
        raise ValueError(f"rows must be a whole number of at least 1, got {rows!r}")
    if not np.isfinite(drift) or drift < 0:
        raise ValueError(f"drift must be a number of at least 0, got {drift!r}")
    rng = np.random.default_rng(seed)
    n = int(rows)

    child = rng.random(n) < CHILD_SHARE
    adult_age = 16 + rng.gamma(shape=2.2, scale=12.0, size=n) + 8.0 * drift
    age = np.where(child, rng.integers(0, 16, size=n), np.minimum(adult_age, 90)).astype(int)

    education, education_effect = _choose(rng, EDUCATION, n)
    teenager = (age >= 16) & (age < 19)
    education = np.where(teenager & (education_effect > -0.6), " 11th grade", education)
    education_effect = np.where(teenager, -1.3, education_effect)

    work_chance = np.select([age < 16, age < 20, age < 62, age < 70], [0.0, 0.45, 0.8, 0.35], 0.1)
    works = ~child & (rng.random(n) < work_chance + 0.05 * education_effect)
    worker_class, class_effect = _choose(rng, WORKER_CLASSES, n)
    industry, industry_effect = _choose(rng, INDUSTRIES, n)
    size_shares = EMPLOYER_SIZE_SHARES + drift * np.array([-0.05, -0.03, -0.02, 0, 0.02, 0.08])
    size_shares = np.clip(size_shares, 0.01, None)
    employer_size = rng.choice(EMPLOYER_SIZES, size=n, p=size_shares / size_shares.sum())

    worker_class = np.where(works, worker_class, NOT_IN_UNIVERSE)
    class_effect = np.where(works, class_effect, 0.0)
    industry = np.where(works, industry, NO_INDUSTRY)
    industry_effect = np.where(works, industry_effect, 0.0)
    employer_size = np.where(works, employer_size, 0)
    education = np.where(child, CHILD_EDUCATION, education)

    adult = ~child
    richness = np.clip(education_effect, -1, None) + (age - 40) / 25
    capital_gains, capital_losses, dividends_from_stocks = _capital_income(
        rng, adult, richness, drift
    )

    income_score = (
        INCOME_INTERCEPT
        + 1.1 * education_effect
        + works * 1.6
        - ((age - 50) / 16.0) ** 2
        + class_effect
        + industry_effect
        + 0.15 * employer_size
        + 1.8 * (capital_gains > 0)
        + 0.0002 * capital_gains
        + 0.9 * (dividends_from_stocks > 0)
        + 0.6 * (capital_losses > 0)
    )
    chance = 1.0 / (1.0 + np.exp(-income_score))
    positive = adult & (rng.random(n) < chance)

    return pd.DataFrame(
        {
            "age": age,
            "education": education,
            "major industry code": industry,
            "class of worker": worker_class,
            "num persons worked for employer": employer_size,
            "capital gains": capital_gains,
            "capital losses": capital_losses,
            "dividends from stocks": dividends_from_stocks,
            schema.LABEL: np.where(positive, schema.LABEL_POSITIVE, schema.LABEL_NEGATIVE),
        },
        columns=list(schema.REQUIRED),
    )


def write_csv(path: str | os.PathLike[str], rows: int, seed: int = 0, drift: float = 0.0) -> Path:
    """Generate rows and write them as a CSV with a header; returns the path.

    Raises ValueError with one sentence for bad arguments or a path that cannot be written.
    The file is written under a temporary name first, so a failure leaves no partial file.
    """
    data = generate(rows, seed=seed, drift=drift)
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"{target} is a directory; pass a file name such as {target}/data.csv")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        data.to_csv(temporary, index=False)
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ValueError(
            f"cannot write {target}: {error.strerror or error}; choose a writable path"
        ) from error
    return target
