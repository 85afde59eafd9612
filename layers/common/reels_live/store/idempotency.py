"""Where Powertools idempotency keeps its records: this table, its partition per operation, its TTL."""

from functools import cache

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from reels_live.core import aws
from reels_live.core.config import settings
from reels_live.store import keys


@cache
def persistence(operation: str) -> DynamoDBPersistenceLayer:
    """Records live at PK=IDEMPOTENCY#<operation>, SK=<hash of caller and key>, expiring via `expiresAt`."""
    return DynamoDBPersistenceLayer(
        table_name=settings().table_name,
        key_attr=keys.PK,
        sort_key_attr=keys.SK,
        static_pk_value=keys.idempotency_partition(operation),
        expiry_attr=keys.TTL_ATTRIBUTE,
        in_progress_expiry_attr="inProgressExpiresAt",
        boto3_client=aws.client("dynamodb"),
    )
