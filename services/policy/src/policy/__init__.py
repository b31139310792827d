"""The policy service. Owns policies, per-assignment coverage and its lifecycle, and Certificates of
Insurance."""
