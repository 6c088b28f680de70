"""SMS reminders: a ladder of messages around each due date (templates), an outbox in PostgreSQL that
sends each one once (outbox), the gateways they leave by (providers) and the managers' settings (policies).
sql/043_reminders.sql holds the tables and the questions asked of them."""
