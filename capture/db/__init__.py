"""The database: engine and transactions (engine), migrating (migrate), leads (store), report keys
(report_keys), the tables (models) and Alembic migrations, which never import application code.
"""
