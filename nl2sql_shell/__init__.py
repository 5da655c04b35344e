"""psql with a local text-to-SQL model inside."""

__version__ = "0.1.0"
