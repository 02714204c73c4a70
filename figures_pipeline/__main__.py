"""`python -m figures_pipeline build|check|list|clean|graph`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
