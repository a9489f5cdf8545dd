"""Everything that leaves later: the outbox (a durable queue of jobs; amend holds the only changes
to a queued job), the registry of message kinds and their renderers, the worker that claims,
renders through the registry, sends and records, MIME assembly (mail, headers), SMTP transport
and webhooks (webhooks, posting). Names no feature.
"""
