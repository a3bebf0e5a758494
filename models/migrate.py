"""Run Alembic from code (`thidua db upgrade`, `thidua up`), without an alembic.ini on disk."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations

SCRIPTS = Path(migrations.__file__).parent


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Leave expression indexes out of autogenerate: they are written by hand in the migrations, as not
    every dialect can reflect them."""
    return not (type_ == "index" and any(not hasattr(e, "name") for e in getattr(obj, "expressions", [])))


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    if url:
        cfg.attributes["url"] = url
    return cfg


def upgrade(url: str | None = None) -> None:
    """Bring the app database to the newest schema (creating it if empty)."""
    from models.db import get_engine
    from models.settings import get_settings

    url = url or get_settings().effective_database_url
    cfg = alembic_config(url)
    with get_engine(url).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def current(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from models.db import get_engine
    from models.settings import get_settings

    with get_engine(url or get_settings().effective_database_url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
