"""The webhook receiver: POST /webhook, signature checked, event committed before the 200.

Answering only after the commit means an event the platform saw acknowledged is on disk; one that
was refused (401 bad signature, 400 malformed) stored nothing and says why in the body.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.domain.errors import WebhookRejected
from app.platform.webhooks import SIGNATURE_HEADER, verify_and_parse
from app.sync.intake import Intake

log = logging.getLogger("closeout.webhooks")

MAX_BODY = 1_000_000


def webhook_app(secret: str, intake: Intake) -> Starlette:
    """The receiver's ASGI app."""

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            if len(body) > MAX_BODY:
                raise WebhookRejected("The webhook body is too large.", status=413)
            event = verify_and_parse(secret, body, request.headers.get(SIGNATURE_HEADER))
            await intake.submit(event)  # an event the database cannot hold is refused alone (UnstorableEvent)
        except WebhookRejected as exc:
            log.warning("refused a webhook: %s", exc.message)
            return JSONResponse({"code": exc.status, "message": exc.message}, status_code=exc.status)
        return JSONResponse({"ok": True})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "service": "closeout webhook receiver"})

    return Starlette(routes=[Route("/webhook", receive, methods=["POST"]), Route("/webhook", health, methods=["GET"])])
