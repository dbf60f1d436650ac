"""Figures (matplotlib, Agg backend): overlays, Pareto fronts, distributions.

Imported only by the CLI and by users; the core never imports it. One module per
workflow or figure kind (``report.atoms``, ``report.pareto``, ...).
"""
