"""The notification service. Owns email templates and deliveries over SMTP, the delivery log, and the
development mail catcher."""
