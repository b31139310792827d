import sys
from pathlib import Path

# shared builders for this service's tests (a uniquely named module, see enrollment_support.py)
sys.path.insert(0, str(Path(__file__).parent))
