"""Data views: export (and charts, compliance, report, deletion)."""
