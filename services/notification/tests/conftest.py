import sys
from pathlib import Path

# the message factories (notification_messages.py) live beside this file
sys.path.insert(0, str(Path(__file__).parent))
