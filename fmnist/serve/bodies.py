"""What every route of the service shares: a refusal as a status and one sentence, and reading a
request body within its size limit."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request


class Refused(Exception):
    """A request answered with `status` and `{"error": message}`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused past `limit` bytes before it is all read."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise (
            Refused(413, f"the body is over the {limit:,}-byte limit")
            if length.isdigit()
            else Refused(400, "a malformed Content-Length")
        )
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise Refused(413, f"the body is over the {limit:,}-byte limit")
    except ClientDisconnect:
        raise Refused(400, "the client went away before the body was read") from None
    return bytes(body)
