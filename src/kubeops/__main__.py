"""``python -m kubeops`` runs the ``kubeops`` command."""

import sys

from kubeops.cli.main import main

sys.exit(main())
