"""``python -m enrollment api|worker|relay|all|migrate|makemigration|deadletters``."""

import sys

from ten99kit.cli import main

from .bootstrap import definition

sys.exit(main(definition))
