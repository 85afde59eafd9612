"""What LiveKit tells us: webhook verification and meaning (`webhooks`), the pure rules a report follows
(`transitions`), reading, deciding and committing a report (`tracking`), the minute reconciler
(`reconciler`), the go-live outbox (`go_live`), and the webhook's answer (`schemas`).

May import: `core`, `entities`, `store`, `integrations`, and `notifications.messages` (the go-live message
it sends). `transitions` imports no `store` or `integrations`. Never `api`.
"""
