"""The service's tables in the database: feedback, A/B exposures, catalog changes."""
