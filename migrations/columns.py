"""Column builders for the migrations, in the models' terms: NOT NULL unless `nullable=True`, as the models
declare their fields.

The migrations build their schema with these: never change what one builds (that would change old
migrations); add a new builder instead.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel.sql.sqltypes import AutoString


def id_column() -> sa.Column:
    """The integer `id` most tables are keyed by (a table keyed otherwise declares its PrimaryKeyConstraint)."""
    return sa.Column("id", sa.Integer(), primary_key=True, nullable=False)


def integer(name: str, *, nullable: bool = False, default: str | None = None) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=nullable, server_default=default)


def string(name: str, length: int, *, nullable: bool = False, default: str | None = None) -> sa.Column:
    """A VARCHAR(length); `default` fills the rows already in the table when it is added later."""
    return sa.Column(name, AutoString(length=length), nullable=nullable, server_default=default)


def long_text(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=nullable)


def date(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Date(), nullable=nullable)


def timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    """A timezone-aware timestamp (models.db.UTCDateTime)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def boolean(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), nullable=False)


def json(name: str) -> sa.Column:
    return sa.Column(name, sa.JSON(), nullable=False)


def binary(name: str) -> sa.Column:
    return sa.Column(name, sa.LargeBinary(), nullable=False)


def enum(name: str, values: Sequence[str], *, type_name: str, nullable: bool = False) -> sa.Column:
    """An enum stored as text with no database type or CHECK (models.db.enum_type), so a new value needs no DDL."""
    kind = sa.Enum(*values, name=type_name, native_enum=False, create_constraint=False, length=40)
    return sa.Column(name, kind, nullable=nullable)


def foreign_key(column: str, table: str) -> sa.ForeignKeyConstraint:
    """`column` refers to `table`.id."""
    return sa.ForeignKeyConstraint([column], [f"{table}.id"])
