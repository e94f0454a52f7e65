"""One module per delivery channel; `activities/deliver.py` picks among them.

Each channel is `async def send(delivery, ack_url, settings) -> str` and
returns a short detail for the timeline, or raises DeliveryRejected
(permanent) or DeliveryUnavailable (worth retrying).
"""
