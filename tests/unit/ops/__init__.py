"""Unit tests of kubeops.ops."""
