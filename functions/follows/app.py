"""Follow and unfollow a user, and read anyone's followers and following lists (`/users/{userId}/...`).

One function for the four routes: they are the social graph's reads and writes over the same items.
"""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.api.caller import caller_id
from reels_live.api.params import UserIdPath
from reels_live.api.resolver import documented, http_api
from reels_live.core.observability import logger, metrics, tracer
from reels_live.social import follows
from reels_live.social.schemas import FollowState, UserPage

app = http_api()

Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]
Cursor = Annotated[
    str | None, Query(min_length=1, max_length=2048, description="`nextCursor` of the previous page")
]


@app.put(
    "/users/<userId>/follow",
    summary="Follow a user (idempotent)",
    operation_id="follow",
    responses=documented((200, FollowState, "You follow them"), 401, 404),
    tags=["social"],
)
@tracer.capture_method
def follow(userId: UserIdPath) -> FollowState:
    return follows.follow(caller_id(app), userId)


@app.delete(
    "/users/<userId>/follow",
    summary="Unfollow a user (idempotent)",
    operation_id="unfollow",
    responses=documented((200, FollowState, "You do not follow them"), 401),
    tags=["social"],
)
@tracer.capture_method
def unfollow(userId: UserIdPath) -> FollowState:
    return follows.unfollow(caller_id(app), userId)


@app.get(
    "/users/<userId>/followers",
    summary="A user's followers, newest first",
    operation_id="listFollowers",
    responses=documented((200, UserPage, "A page of followers"), 401),
    tags=["social"],
)
@tracer.capture_method
def followers(userId: UserIdPath, limit: Limit = 50, cursor: Cursor = None) -> UserPage:
    return follows.followers(userId, limit=limit, cursor=cursor)


@app.get(
    "/users/<userId>/following",
    summary="Whom a user follows",
    operation_id="listFollowing",
    responses=documented((200, UserPage, "A page of followed users"), 401),
    tags=["social"],
)
@tracer.capture_method
def following(userId: UserIdPath, limit: Limit = 50, cursor: Cursor = None) -> UserPage:
    return follows.following(userId, limit=limit, cursor=cursor)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
