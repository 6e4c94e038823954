"""The human-readable report of a pipeline run (tables, PNG charts, Markdown and HTML)."""

from mlmax_census.report.build import REPORT_FILES, ReportError, write_report

__all__ = ["REPORT_FILES", "ReportError", "write_report"]
