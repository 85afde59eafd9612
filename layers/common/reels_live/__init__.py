"""reels-live domain package, shipped to every function as the CommonLayer.

Bottom up: `core` (config, clock, ids, errors, observability, AWS clients, retry); `entities` (stored
entities, the state machine, the records rules decide on); `store` (DynamoDB) and `integrations` (LiveKit,
SES, SNS, SQS, Secrets Manager); the concerns `streams`, `live`, `social`, `notifications`; and `api`, the
HTTP edge. Dependencies point down only (checked by import-linter in `make test`). No package's
`__init__` imports its modules: a handler pays only for what it imports.
"""
