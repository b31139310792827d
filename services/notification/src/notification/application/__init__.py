"""Use cases: turning other contexts' messages into recorded emails, and sending them."""
