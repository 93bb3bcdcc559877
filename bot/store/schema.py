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

# -- quotas (migration 2) -----------------------------------------------------------------------

# One row per guild default ("guild", 0), role ("role", role_id) or member ("user", user_id).
# A NULL limit means "not set here" (fall back); exempt rows lift every limit.
quota_policies = Table(
    "quota_policies",
    metadata,
    Column("guild_id", BigInteger, primary_key=True),
    Column("scope", String(8), primary_key=True),
    Column("target_id", BigInteger, primary_key=True),
    Column("tracks", Integer, nullable=True),
    Column("seconds", Integer, nullable=True),
    Column("window_hours", Integer, nullable=True),
    Column("exempt", Boolean, nullable=False, default=False),
    Column("updated_at", Float, nullable=False),
)

# The row locked while a member's reservation is decided, so concurrent composes queue up.
quota_accounts = Table(
    "quota_accounts",
    metadata,
    Column("guild_id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, primary_key=True),
    Column("blocked_reason", Text, nullable=True),
    Column("blocked_by", BigInteger, nullable=True),
    Column("blocked_at", Float, nullable=True),
)

# Every reservation: reserved -> committed (delivered) or refunded (anything else).
# `reset` marks usage a moderator wiped.
quota_usage = Table(
    "quota_usage",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("state", String(10), nullable=False),
    Column("job_id", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index(
    "ix_quota_usage_member", quota_usage.c.guild_id, quota_usage.c.user_id, quota_usage.c.created_at
)
Index("ix_quota_usage_state", quota_usage.c.state)
# The bot-wide budget sums the last 24 h of every server (migration 6).
Index("ix_quota_usage_created", quota_usage.c.created_at)

# Rows locked while a reservation is checked against the operator's budgets (migration 6):
# ("bot", 0) for the bot-wide budget, ("guild", guild_id) for a server's ceiling. Concurrent
# reservations from any number of processes queue on them, so none passes the last seconds.
quota_budget_locks = Table(
    "quota_budget_locks",
    metadata,
    Column("scope", String(8), primary_key=True),
    Column("target_id", BigInteger, primary_key=True),
)

# What the bot last registered with Discord, so it syncs its commands only when they change.
app_commands = Table(
    "app_commands",
    metadata,
    Column("scope", String(32), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("synced_at", Float, nullable=False),
)

guild_settings = Table(
    "guild_settings",
    metadata,
    Column("guild_id", BigInteger, primary_key=True),
    Column("log_channel_id", BigInteger, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("actor_id", BigInteger, nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(64), nullable=False),
    Column("details", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("ix_audit_guild", audit_log.c.guild_id, audit_log.c.created_at)

# -- jobs (migration 2) -------------------------------------------------------------------------

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("prompt", Text, nullable=False),
    Column("length_s", Integer, nullable=False),
    Column("instrumental", Boolean, nullable=False),
    Column("request", Text, nullable=False),
    Column("output_format", String(32), nullable=False),
    Column("state", String(12), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("lease_expires_at", Float, nullable=False),
    Column("reservation_id", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("started_seq", Integer, nullable=True),
    Column("started_at", Float, nullable=True),
    # Set once the audio is in hand: the job no longer holds one of the API's slots.
    Column("composed_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("error", Text, nullable=True),
    # Set when the requester pressed Try again (migration 3): one retry per interrupted job.
    Column("retried_at", Float, nullable=True),
    # The message the track is delivered into (migration 5), when known before the upload: a
    # restart checks it to tell a track that reached the channel from one that did not.
    Column("message_id", BigInteger, nullable=True),
    # The member's reply, by interaction token (migration 7): any process can edit it while
    # the token lasts (15 minutes), so a takeover updates the member's own message.
    Column("interaction_token", Text, nullable=True),
    Column("application_id", BigInteger, nullable=True),
)
Index("ix_jobs_state", jobs.c.state, jobs.c.created_at)
Index("ix_jobs_member", jobs.c.guild_id, jobs.c.user_id, jobs.c.started_seq)

# -- plans and tracks (migration 4) -------------------------------------------------------------

# A composition plan a member can look at, edit and compose: from /music plan, a plan the API
# suggested, a JSON file, or a posted track's "Edit & compose".
plans = Table(
    "plans",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("origin", String(12), nullable=False),
    Column("prompt", Text, nullable=True),
    Column("plan", Text, nullable=False),
    # What the plan is, in a line, and its length: autocomplete lists plans without parsing them.
    Column("summary", Text, nullable=False),
    Column("length_s", Integer, nullable=False),
    # The public message showing the plan, edited in place when a section changes.
    Column("message_id", BigInteger, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_plans_member", plans.c.guild_id, plans.c.user_id, plans.c.updated_at)

# A delivered track: what produced it, so its buttons (Regenerate, Show plan, Extend, Redo a
# section) work for as long as the row is kept.
tracks = Table(
    "tracks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("request", Text, nullable=False),
    Column("plan", Text, nullable=True),
    Column("song_id", String(100), nullable=True),
    Column("title", Text, nullable=True),
    Column("length_s", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    # When Regenerate and Extend were pressed (migration 5): each makes one new track, once.
    Column("regenerated_at", Float, nullable=True),
    Column("extended_at", Float, nullable=True),
    # When Stems was used for each choice (migration 7): two and six stems, once each.
    Column("stems2_at", Float, nullable=True),
    Column("stems6_at", Float, nullable=True),
)
Index("ix_tracks_created", tracks.c.created_at)

# -- processes sharing one bot token (migration 7) ----------------------------------------------

# An interaction id, claimed by the one process that answers it (insert-or-nothing).
interaction_claims = Table(
    "interaction_claims",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("owner", String(64), nullable=False),
    Column("claimed_at", Float, nullable=False),
)
Index("ix_interaction_claims_claimed", interaction_claims.c.claimed_at)

# When each identify bucket (shard_id % max_concurrency) last identified, for every process.
identify_slots = Table(
    "identify_slots",
    metadata,
    Column("bucket", Integer, primary_key=True, autoincrement=False),
    Column("last_at", Float, nullable=False),
)
