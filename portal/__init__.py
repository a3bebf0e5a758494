"""The council portal: each person logs in with their own account and sees and does only what their
council may; every change goes through the same Prefect flows as the CLI (portal/flows.py)."""
