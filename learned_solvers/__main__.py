"""``python -m learned_solvers ...``: the ``learned-solvers`` command, for an environment whose
scripts folder is not on PATH."""

import sys
import warnings

from .cli import main

if __name__ == "__main__":
    warnings.filterwarnings("default")
    sys.exit(main())
