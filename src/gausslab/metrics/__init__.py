"""Metrics with exact reference definitions (see DESIGN.md, "Metric functions")."""
