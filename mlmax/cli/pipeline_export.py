"""`mlmax pipeline export`: write the pipeline as a SageMaker Pipeline definition (JSON)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mlmax.cli.common import EXIT_OK, non_negative_float, progress
from mlmax.common import UsageError

if TYPE_CHECKING:
    from mlmax.cli.common import Commands
    from mlmax.cloud import ExportOptions


def register(verbs: Commands) -> None:
    export = verbs.add_parser(
        "export",
        help="write the pipeline as a SageMaker Pipeline definition (JSON)",
        description="Write the pipeline as a SageMaker Pipeline definition (JSON). Without "
        "--upsert nothing reaches AWS (the code uploads go to an emulated S3).",
    )
    export.add_argument("--output", type=Path, required=True, metavar="FILE")
    export.add_argument("--role", help="execution role ARN (default: $MLMAX_SAGEMAKER_ROLE)")
    export.add_argument("--bucket", help="S3 bucket (default: $MLMAX_SAGEMAKER_BUCKET)")
    export.add_argument("--image", help="job image URI (default: $MLMAX_SAGEMAKER_IMAGE)")
    export.add_argument("--region", help="AWS region (default: boto's configuration)")
    export.add_argument("--name", help="pipeline name (default: mlmax-census)")
    export.add_argument(
        "--threshold",
        type=non_negative_float,
        help="the quality gate's minimum: the ROC AUC the model needs for batch inference to "
        "run (default: the pipeline's own, 0.75)",
    )
    export.add_argument("--upsert", action="store_true", help="create or update the pipeline")
    export.add_argument("--start", action="store_true", help="start an execution (with --upsert)")
    export.set_defaults(handler=run_export)


def _options(args: argparse.Namespace) -> ExportOptions:
    """The export's settings from the options and MLMAX_SAGEMAKER_*; UsageError if missing."""
    from mlmax.cloud import ExportOptions, SageMakerOptions

    found = SageMakerOptions.from_environment(
        role=args.role, bucket=args.bucket, image_uri=args.image
    )
    missing = [
        flag
        for flag, value in (
            ("--role", found.role),
            ("--bucket", found.bucket),
            ("--image", found.image_uri),
        )
        if not value
    ]
    if missing:
        raise UsageError(f"the export needs {', '.join(missing)} (or MLMAX_SAGEMAKER_* variables)")
    from mlmax.cloud import bucket_name_problem

    problem = bucket_name_problem(found.bucket or "")
    if problem:  # the SDK would otherwise fail on it deep inside the build, with a traceback
        raise UsageError(f"the bucket {found.bucket!r} {problem}; pass a valid S3 bucket name")
    if args.start and not args.upsert:
        raise UsageError("--start needs --upsert: a pipeline must exist before it can start")
    from mlmax.project import load_sample

    census = load_sample("pipeline")  # the sample's DAG, reached by name
    return ExportOptions(
        role=found.role or "",
        bucket=found.bucket or "",
        image_uri=found.image_uri or "",
        dag=census.census_pipeline(census.TrainingOptions()),
        name=args.name,
        threshold=args.threshold,
    )


def run_export(args: argparse.Namespace) -> int:
    import boto3

    from mlmax.common import require_extra

    require_extra("pipelines", "`mlmax pipeline export`")
    from mlmax.cloud import emulated_aws_session, export_pipeline
    from mlmax.localmode.sdk import scoped_environ

    options = _options(args)
    region = args.region or boto3.Session().region_name or "us-east-1"
    # The SDK makes boto clients with the default region while it is imported: without
    # AWS_DEFAULT_REGION that dies with NoRegionError, --region or not.
    with scoped_environ({"AWS_DEFAULT_REGION": region}):
        if not args.upsert:
            with emulated_aws_session(region) as session:
                result = export_pipeline(
                    options, args.output, boto_session=session, progress=progress
                )
            print(result.path)
            return EXIT_OK
        return _upsert(options, args, region)


def _upsert(options: ExportOptions, args: argparse.Namespace, region: str) -> int:
    import boto3
    from botocore.exceptions import NoCredentialsError

    from mlmax.cloud import export_pipeline

    try:
        result = export_pipeline(
            options, args.output, boto_session=boto3.Session(region_name=region), upsert=True,
            start=args.start, progress=progress,
        )  # fmt: skip
    except NoCredentialsError:
        raise UsageError(
            "--upsert creates the pipeline in your AWS account, but no AWS credentials were "
            "found; configure them (AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY) or leave --upsert out"
        ) from None
    print(result.path)
    return EXIT_OK
