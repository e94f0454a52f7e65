"""The development outbox (DESIGN "Development outbox"): where `supportflow up` delivers every message.

The gateway process hosts it when `SUPPORTFLOW_DELIVERY=outbox`: HTTP
stand-ins for chat and webhook receivers and for Twilio's REST API
(`standins.py`), a real SMTP server (`smtp.py`), one store (`store.py`) and
the two ways to read it, `GET /v1/outbox` and the `/outbox` page
(`routes.py`). The worker's side of the switch is `activities/outbox.py`.
"""

from starter.outbox.routes import router

__all__ = ["router"]
