"""Tables. Discord ids are 64-bit integers; times are UNIX seconds (float) in every backend."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Float, nullable=False),
)

suggestions = Table(
    "suggestions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("prompt", Text, nullable=False),
    Column("length_s", Integer, nullable=False),
    Column("instrumental", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
)

Index("ix_suggestions_created", suggestions.c.created_at)
