"""Persistence (SQLAlchemy async Core). Imports nothing from discord or the layers above."""

from .database import Database, StoreUnavailable
from .suggestions import Suggestion, SuggestionStore

__all__ = ["Database", "StoreUnavailable", "Suggestion", "SuggestionStore"]
