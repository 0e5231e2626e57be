"""Unit tests of kubeops.models: quantities and selectors."""
