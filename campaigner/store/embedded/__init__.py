"""campaigner's own PostgreSQL, for a machine with none configured: `cluster` decides, `server` runs it."""
