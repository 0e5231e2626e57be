"""Tests of what deploys kubeops: the Helm chart, the image, the daemons run in-cluster."""
