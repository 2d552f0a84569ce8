"""The product's database: one `Database` (SQLite by default, PostgreSQL to share it), its tables and migrations."""
from storage.database import Database

__all__ = ["Database"]
