"""Persistence: tables, migrations, repositories."""
