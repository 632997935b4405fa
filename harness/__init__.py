"""What the tests and the benchmark both need to run opitios for real: gunicorn on a free port, a migrated database."""
