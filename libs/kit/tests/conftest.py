import sys
from pathlib import Path

# the demo service under test is a package in this folder
sys.path.insert(0, str(Path(__file__).parent))
