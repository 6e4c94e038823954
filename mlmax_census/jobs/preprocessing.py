"""Preprocessing job: clean raw census data, split it and fit the feature transformer.

`--mode train` drops rows with missing values and duplicates, maps the labels to 0/1,
makes a stratified train/test split, fits the transformer on the train part and writes
train/test features and labels plus the fitted transformer as `proc_model.tar.gz`.
`--mode infer` loads that transformer and transforms new data row for row (missing values
are imputed, unknown categories become all-zero one-hot columns).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, StandardScaler

try:
    from . import schema
    from .csv_input import iter_census, read_census
    from .jobs_common import (
        JobInputError,
        add_chunk_rows_argument,
        atomic_outputs,
        load_from_tar,
        run_main,
        tar_writer,
    )
except ImportError:  # run as a script from the flat code folder
    import schema
    from csv_input import iter_census, read_census
    from jobs_common import (
        JobInputError,
        add_chunk_rows_argument,
        atomic_outputs,
        load_from_tar,
        run_main,
        tar_writer,
    )

PROC_MODEL_ARCHIVE = "proc_model.tar.gz"
PROC_MODEL_MEMBER = "proc_model.joblib"
# Uniform bins: age spans 0-90, and persons worked for employer is coded 0-6 in the extract,
# so seven bins give each code its own column.
BIN_COUNTS = {"age": 10, "num persons worked for employer": 7}


def _binner(column: str) -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            (
                "bins",
                KBinsDiscretizer(
                    n_bins=BIN_COUNTS[column], encode="onehot-dense", strategy="uniform"
                ),
            ),
        ]
    )


def build_preprocessor() -> ColumnTransformer:
    """The unfitted feature transformer (binning, scaling, one-hot encoding)."""
    binned = [(f"bin_{c.replace(' ', '_')}", _binner(c), [c]) for c in schema.BINNED]
    scaled = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    onehot = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    return ColumnTransformer(
        [
            *binned,
            ("scale", scaled, list(schema.SCALED)),
            ("onehot", onehot, list(schema.CATEGORICAL)),
        ],
        verbose_feature_names_out=False,
    )


DEFAULT_TEST_SIZE = 0.2


def check_trainable(data: pd.DataFrame, test_size: float = DEFAULT_TEST_SIZE) -> None:
    """Raise JobInputError (what is wrong, and the fix) unless `data` can be split and trained
    on; the host calls this too, so bad data is refused before a container starts."""
    split(clean(data), test_size, seed=0)


def clean(data: pd.DataFrame) -> pd.DataFrame:
    """Drop rows with a missing value and duplicate rows."""
    return data.dropna().drop_duplicates().reset_index(drop=True)


def split(
    data: pd.DataFrame, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Stratified split into train features, test features, train labels, test labels."""
    labels = data[schema.LABEL].astype(int)
    counts = labels.value_counts()
    if len(counts) == 1 and len(data) >= 4:  # enough rows, but of one label only
        only = schema.LABEL_POSITIVE if counts.index[0] == 1 else schema.LABEL_NEGATIVE
        raise JobInputError(
            f"only one class: every usable row of the data is labelled {only.strip()!r}; "
            "a classifier needs rows of both labels, so add rows of the other label"
        )
    if len(counts) < 2 or counts.min() < 2:
        raise JobInputError(
            f"too few rows: {len(data)} usable rows (after dropping incomplete and duplicate "
            f"ones) with label counts {counts.to_dict()}; each label needs at least 2 rows, "
            "so provide more data"
        )
    try:
        x_train, x_test, y_train, y_test = train_test_split(
            data[list(schema.FEATURES)],
            labels,
            test_size=test_size,
            random_state=seed,
            stratify=labels,
        )
    except ValueError as error:
        raise JobInputError(
            f"cannot split {len(data)} rows with --test-size {test_size} ({error}); "
            "provide more data or change --test-size"
        ) from error
    return x_train, x_test, y_train, y_test


def _as_model_input(features: pd.DataFrame) -> pd.DataFrame:
    # Plain object columns with NaN for missing values: what the imputers and the encoder
    # expect with any pandas version (pandas 3 would otherwise hand over its string dtype).
    frame = features[list(schema.FEATURES)].copy()
    for name in schema.CATEGORICAL:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def fit_preprocessor(features: pd.DataFrame) -> ColumnTransformer:
    """Fit the feature transformer on raw features."""
    return build_preprocessor().fit(_as_model_input(features))


def transform(preprocessor: ColumnTransformer, features: pd.DataFrame) -> pd.DataFrame:
    """Transform raw features into the model's features, named as the transformer names them."""
    values = preprocessor.transform(_as_model_input(features))
    frame = pd.DataFrame(values, columns=preprocessor.get_feature_names_out())
    # Bin and one-hot columns hold only 0/1: as integers the CSVs are written and read
    # several times faster than as floats.
    indicators = [name for name in frame.columns if name not in schema.SCALED]
    return frame.astype(dict.fromkeys(indicators, "int8"))


def _write_csv(frame: pd.DataFrame | pd.Series, path: Path) -> None:
    frame.to_csv(path, index=False)


def _write_features(
    preprocessor: ColumnTransformer, features: pd.DataFrame, path: Path, chunk_rows: int
) -> int:
    """Transform and write `features` a chunk at a time (the transformed table, mostly
    one-hot columns, is several times the raw one); returns the number of feature columns."""
    with path.open("w", newline="") as out:
        for start in range(0, len(features), chunk_rows):
            chunk = transform(preprocessor, features.iloc[start : start + chunk_rows])
            chunk.to_csv(out, index=False, header=start == 0)
    return len(preprocessor.get_feature_names_out())


def run_train(args: argparse.Namespace) -> None:
    data = read_census(args.input_dir, label="required", chunk_rows=args.chunk_rows)
    cleaned = clean(data)
    print(f"preprocessing: read {len(data)} rows, {len(cleaned)} after cleaning")
    del data  # the cleaned copy is all the job needs from here on
    x_train, x_test, y_train, y_test = split(cleaned, args.test_size, args.seed)
    del cleaned
    preprocessor = fit_preprocessor(x_train)
    train_dir, test_dir = Path(args.train_dir), Path(args.test_dir)
    outputs = {
        "train_features": train_dir / "train_features.csv",
        "train_labels": train_dir / "train_labels.csv",
        "test_features": test_dir / "test_features.csv",
        "test_labels": test_dir / "test_labels.csv",
        "model": Path(args.model_dir) / PROC_MODEL_ARCHIVE,
    }
    with atomic_outputs(list(outputs.values())) as temporary:
        path = {name: temporary[target] for name, target in outputs.items()}
        width = _write_features(preprocessor, x_train, path["train_features"], args.chunk_rows)
        _write_csv(y_train.reset_index(drop=True), path["train_labels"])
        _write_features(preprocessor, x_test, path["test_features"], args.chunk_rows)
        _write_csv(y_test.reset_index(drop=True), path["test_labels"])
        tar_writer(PROC_MODEL_MEMBER, preprocessor)(path["model"])
    print(f"preprocessing: {len(x_train)} train and {len(x_test)} test rows, {width} features")


def load_preprocessor(proc_model_dir: str | Path) -> ColumnTransformer:
    """Load the fitted transformer from `proc_model.tar.gz` in a directory."""
    hint = "run preprocessing.py --mode train first and pass its model directory"
    preprocessor = load_from_tar(Path(proc_model_dir) / PROC_MODEL_ARCHIVE, PROC_MODEL_MEMBER, hint)
    if not isinstance(preprocessor, ColumnTransformer):
        raise JobInputError(
            f"{PROC_MODEL_ARCHIVE} in {proc_model_dir} does not hold a fitted preprocessor; {hint}"
        )
    return preprocessor


def run_infer(args: argparse.Namespace) -> None:
    preprocessor = load_preprocessor(args.proc_model_dir)
    # Chunk by chunk: the transform is row for row, so memory holds one chunk, not the input.
    chunks = iter_census(args.input_dir, label="optional", chunk_rows=args.chunk_rows)
    first = next(chunks)  # bad input is refused before any output is opened
    features_target = Path(args.output_dir) / "infer_features.csv"
    # Labels go to their own directory: a batch-inference job reads every CSV of its input
    # directory as features, so the features directory must hold features only.
    labels_target = Path(args.labels_dir) / "infer_labels.csv"
    labelled = schema.LABEL in first.columns  # only when every input file has labels
    targets = [features_target, labels_target] if labelled else [features_target]
    rows = 0
    with atomic_outputs(targets) as temporary, contextlib.ExitStack() as files:
        features_out = files.enter_context(temporary[features_target].open("w", newline=""))
        if labelled:
            labels_out = files.enter_context(temporary[labels_target].open("w", newline=""))
        for data in itertools.chain([first], chunks):
            transform(preprocessor, data).to_csv(features_out, index=False, header=rows == 0)
            if labelled:
                labels = data[schema.LABEL].astype("Int64")
                labels.to_csv(labels_out, index=False, header=rows == 0)
            rows += len(data)
    width = len(preprocessor.get_feature_names_out())
    print(f"preprocessing: transformed {rows} rows into {width} features")


def main(args: argparse.Namespace) -> None:
    if args.mode == "train":
        run_train(args)
    else:
        run_infer(args)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("train", "infer"), default="train")
    parser.add_argument("--input-dir", default="/opt/ml/processing/input/data")
    parser.add_argument("--train-dir", default="/opt/ml/processing/train")
    parser.add_argument("--test-dir", default="/opt/ml/processing/test")
    parser.add_argument("--model-dir", default="/opt/ml/processing/model")
    parser.add_argument("--proc-model-dir", default="/opt/ml/processing/proc_model")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    parser.add_argument("--labels-dir", default="/opt/ml/processing/labels")
    parser.add_argument("--test-size", type=_fraction, default=DEFAULT_TEST_SIZE)
    parser.add_argument("--seed", type=int, default=42)
    add_chunk_rows_argument(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(run_main(main, parse_args))
