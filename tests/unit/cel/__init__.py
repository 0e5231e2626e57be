"""Unit tests of kubeops.cel: compiling, evaluating, errors and the quantity library."""
