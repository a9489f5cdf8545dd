"""Everything that leaves later: the outbox (a durable queue of message jobs), the worker that claims, renders and sends them, MIME assembly, SMTP transport and webhooks."""
