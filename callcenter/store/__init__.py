"""Persistence: SQLAlchemy models, the database handle, the durable journal and the record writer."""
