"""Unit tests of kubeops.cache: keys, the indexed store, listers and the delta FIFO."""
