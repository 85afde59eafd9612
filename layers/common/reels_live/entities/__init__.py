"""The stored entities and the records pure rules decide on.

`lifecycle` (the stream state machine as data), `streams`, `participants` (participants and sessions),
`reels`, `people` (profiles, devices, sign-in), `preferences`, `notifications` (inbox items, alert content,
announcements, alert markers), `live` (the snapshot and change of a LiveKit report), `text` (what user text
may carry) and `base` (camelCase pydantic bases).

May import: `core` only.
"""
