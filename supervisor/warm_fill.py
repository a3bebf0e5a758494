"""Imported by the fork server of supervisor/warm.py, last of its preloads: fills the caches that its
forked runs inherit (supervisor/warm_caches.py). A preload runs only by being imported, hence a module of
its own; `fill` never raises (a preload that raises stops the fork server)."""

from supervisor.warm_caches import fill

FILLED = fill()
