"""The run report: every analysis of the seed as one HTML page in the run folder."""
from softfact.report.build import build_report

__all__ = ["build_report"]
