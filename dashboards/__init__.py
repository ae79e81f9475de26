"""Plotly dashboards for chairs: pure figure builders over SQL aggregates, and their pages."""
