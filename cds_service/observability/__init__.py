"""What an operator sees of the running service: its logs (logs.py) and its metrics (metrics.py)."""
