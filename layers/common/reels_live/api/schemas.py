"""The one error envelope every route answers with, as OpenAPI documents it."""

from pydantic import BaseModel, Field

from reels_live.entities.base import CamelModel
from reels_live.entities.streams import Price


class ErrorDetail(CamelModel):
    field: str | None = None
    message: str


class ErrorBody(CamelModel):
    code: str = Field(description="Stable machine-readable code, e.g. stream_not_found")
    message: str
    field: str | None = Field(default=None, description="The request field at fault, for validation errors")
    errors: list[ErrorDetail] | None = Field(default=None, description="Every validation problem found")
    stream_id: str | None = Field(default=None, description="The conflicting stream (409)")
    price: Price | None = Field(default=None, description="What access costs (402)")
    retry_after_seconds: int | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody
