"""Shared fixtures: a throwaway app database (SQLite, or PostgreSQL when THIDUA_TEST_DATABASE_URL is
set), an isolated data folder, and the session-wide Prefect test harness."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="thidua-tests-"))
os.environ.setdefault("THIDUA_DATA_DIR", str(_SESSION_DIR / "data"))
os.environ["PREFECT_HOME"] = str(_SESSION_DIR / "prefect")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

pytest_plugins = ["tests.fixtures_smtp", "tests.fixtures_prefect"]

# pytest-xdist sets COLUMNS=80 in its workers; the CLI's consoles would then be fixed at 80 columns when
# imported, whatever width a test asks its runner for. Without xdist the variable is unset: the same here.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)


def _own_postgres_database_per_worker() -> None:
    """Under pytest-xdist, each worker gets its own PostgreSQL database (`<name>_gw0`, …), created
    here and dropped at exit, so that tests sharing "the" test database never meet another worker's."""
    import atexit

    base = os.environ.get("THIDUA_TEST_DATABASE_URL", "")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not base.startswith("postgresql"):
        return
    from contextlib import ExitStack

    from sqlalchemy.engine import make_url

    from models.db import throwaway_databases

    stack = ExitStack()
    (url,) = stack.enter_context(throwaway_databases(base, f"{make_url(base).database}_{worker}"))
    atexit.register(stack.close)
    os.environ["THIDUA_TEST_DATABASE_URL"] = url


_own_postgres_database_per_worker()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty app database for one test, set as THIDUA_DATABASE_URL."""
    from models.db import create_all_for_tests, dispose_engines
    from models.settings import reset_settings

    url = os.environ.get("THIDUA_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("THIDUA_DATABASE_URL", url)
    monkeypatch.setenv("THIDUA_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    create_all_for_tests(url)
    yield url
    dispose_engines()
    reset_settings()


@pytest.fixture
def session(db_url: str):
    from sqlmodel import Session

    from models.db import get_engine

    with Session(get_engine(db_url), expire_on_commit=False) as s:
        yield s


@pytest.fixture
def sample(session):
    """The seeds' localities (2022 and from 1/7/2025), their councils, and the campaigns."""
    from models.campaigns import ensure_campaigns
    from models.hierarchy import Hierarchy
    from models.sample import load_sample

    load_sample(session=session)
    ensure_campaigns(session=session)
    session.commit()
    return Hierarchy.load(session)


@pytest.fixture(scope="session")
def sample_hierarchy(tmp_path_factory: pytest.TempPathFactory):
    """The sample tree loaded once (read-only tests: routing, resolution)."""
    from sqlmodel import Session

    from models.db import create_all_for_tests, get_engine
    from models.hierarchy import Hierarchy
    from models.sample import load_sample

    url = f"sqlite:///{tmp_path_factory.mktemp('sample') / 'sample.db'}"
    create_all_for_tests(url)
    with Session(get_engine(url)) as s:
        load_sample(session=s)
        s.commit()
        return Hierarchy.load(s)


# Test modules that reach the app database by THIDUA_TEST_DATABASE_URL themselves (e.g. through `thidua up`)
# rather than through the `db_url` fixture. Not tests/test_browser.py: its subject is Prefect's own UI (the
# form, the auth, the artifacts), whatever the app database; the same meeting's flows on PostgreSQL are
# test_meeting_cli's and test_workers_e2e's, and the portal's browser test runs there too.
_READ_THE_DATABASE_URL = {
    "test_meeting_cli.py",
    "test_migrations.py",
    "test_up.py",
    "test_workers_e2e.py",
    "test_outbox.py",
    "test_browser_portal.py",
}


def _uses_the_app_database(item: pytest.Item) -> bool:
    if item.get_closest_marker("any_database"):  # marked: what it checks does not depend on the database
        return False
    used = {"db_url", "world"} & set(getattr(item, "fixturenames", ()))  # world: the portal tests' database
    return bool(used) or item.path.name in _READ_THE_DATABASE_URL


# The longest modules, longest first (pytest --durations, CI's runs on 2 cores): scripts/test runs files on
# two workers in collection order (`--dist loadfile --no-loadscope-reorder`), so starting these first keeps
# one worker from beginning a 10-minute module when the other is nearly done.
_LONGEST_FIRST = (
    "test_workers_e2e.py",
    "test_meeting_cli.py",
    "test_browser.py",
    "test_browser_portal.py",
    "test_up.py",
    "test_meeting_lifecycle.py",
    "test_intake_service.py",
    "test_flows.py",
    "test_dashboard.py",
    "test_deadlines.py",
    "test_files_property.py",
    "test_cli_output.py",
    "test_authorization.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest modules first (see _LONGEST_FIRST; the order within a module is kept).

    With THIDUA_TEST_DATABASE_ONLY=1 (CI's PostgreSQL pass) run only the tests that use the app
    database: the others (benchmarks on their own SQLite, file parsers, the calendar, Prefect's own UI)
    do exactly the same whatever the app database is, and ran in the SQLite pass already."""
    rank = {name: i for i, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
    if os.environ.get("THIDUA_TEST_DATABASE_ONLY") != "1" or not os.environ.get("THIDUA_TEST_DATABASE_URL"):
        return
    kept = [item for item in items if _uses_the_app_database(item)]
    deselected = [item for item in items if not _uses_the_app_database(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
