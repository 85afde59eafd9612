"""The foundation every other package stands on: configuration, clock, ids, errors, observability, AWS
clients, retries and encodings.

May import: the standard library, pydantic, Powertools and boto3 only; never another `reels_live` package.
"""
