"""Bandwidth trade studies: a grid of scenario overrides x codecs x seeds, run, summarised and reported.

Modules: ``cli`` (the ``python -m sim.study`` command line), ``grid`` (study file and sweep validation, cell
expansion), ``exec`` (local or Dask execution, one persisted record per cell), ``cell`` (the default runner: one
engine run per cell), ``results`` (statistics and results.csv), ``plots`` and ``report`` (report.md/html).
"""
