"""The database: engine and transactions (store), the tables (models) and Alembic migrations, which never import application code."""
