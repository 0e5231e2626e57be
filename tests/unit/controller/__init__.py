"""Unit tests of kubeops.controller."""
