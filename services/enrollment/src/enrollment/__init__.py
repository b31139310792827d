"""The enrollment service. Owns opt-in invitations, the opt-in form, eligibility rules and rate tables,
quotes, insurance application sessions, consents and reminders."""
