"""The contractor service. Owns entities (end clients), contractors, job categories, jobs, assignments,
CSV imports, integration links, PO numbers, and the Contractors page read model."""
