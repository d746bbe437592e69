"""Tests of trade studies: grid, execution (local and Dask), report, command line."""
