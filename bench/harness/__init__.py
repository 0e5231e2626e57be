"""The benchmark harness: clusters, data sets, runner processes, results.  See bench/run.py."""
