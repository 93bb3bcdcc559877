"""Persistence (SQLAlchemy async Core). Imports nothing from discord or the layers above."""

from .database import Database
from .suggestions import Suggestion, SuggestionStore

__all__ = ["Database", "Suggestion", "SuggestionStore"]
