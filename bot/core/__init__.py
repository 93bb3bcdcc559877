"""Decisions, Discord-free: each service takes plain values and returns a typed outcome.

Imports `bot.music` and `bot.store` (and the process-wide metrics and log context) only; the
cogs translate an interaction into these inputs and render the outcomes through `bot.ui`.
"""
