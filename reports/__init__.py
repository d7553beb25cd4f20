"""Report templates (reports/templates), shipped with the package."""
