"""The `thidua` command line: one module per command group, mounted in cli/app.py."""
