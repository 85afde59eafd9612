"""The only code that talks to LiveKit (server API and tokens), SES, SNS, SQS and Secrets Manager.

`rooms` (LiveKit's RoomService and Egress over Twirp), `access_tokens` (room tokens, signed locally),
`secrets` (Secrets Manager), `ses` (go-live email), `sns` (push endpoints and alerts), `sqs` (queues).
May import: `core` and `entities`. Never `store` or a concern package.
"""
