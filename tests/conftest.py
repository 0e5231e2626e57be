"""Shared test configuration: the kubeops testenv plugin is loaded by its entry point."""

pytest_plugins = ["pytester"]
