"""Persistence behind cds_service.feedback: tables, database, validation, summary."""
