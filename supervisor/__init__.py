"""The local supervisor: `thidua up` (up.py), serving every deployment (serve.py), and finding the
running service or Prefect's temporary server for a command (reach.py)."""
