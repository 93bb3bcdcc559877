"""A local Eleven Music API for tests and trials (`bot.sandbox.server`). Importing this package
loads nothing else, so the bot can name the sandbox's key without loading the sandbox."""

DEFAULT_API_KEY = "sandbox"
