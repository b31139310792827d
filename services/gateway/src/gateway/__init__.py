"""The gateway service. Owns companies, dashboard users and sessions, API keys, idempotency records;
serves the dashboard and the public API."""
