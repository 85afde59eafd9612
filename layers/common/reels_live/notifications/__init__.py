"""Go-live alerts: the fan-out (`fanout`, step 1), delivery to email, push and in-app (`delivery`, step 2),
the pure rules both follow (`rules`), preferences and the inbox (`preferences`, `inbox`), one-click
unsubscribe (`unsubscribe`), the queue contracts (`messages`) and the inbox's API schemas (`schemas`).

May import: `core`, `entities`, `store`, `integrations`, and `social` (a dead push endpoint loses its device).
`rules` imports no `store` or `integrations`. Never `api`.
"""
