"""Plotly figures built from read models: pure functions returning figure JSON for Plotly.js."""
