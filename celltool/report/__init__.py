"""``celltool report``: one static HTML page (no server, no scripts, no network) showing what
celltool output folders hold and how they were made. See docs/report.md."""

from celltool.report.build import build_report

__all__ = ["build_report"]
