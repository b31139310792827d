from gateway.adapters.db import metadata
from ten99kit.migrations import run_env

run_env(metadata)
