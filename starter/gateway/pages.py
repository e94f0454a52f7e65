"""Small server-rendered HTML pages: one layout, no external assets, no scripts, every value escaped.

Every page fits a 390 px phone screen: long ids and addresses wrap, and a
`table.cases` becomes one card per row, each cell labelled by its `data-label`.
The Content-Security-Policy allows only this stylesheet (by its hash) and
same-origin forms, and no framing (DESIGN "Security"); no Referer is sent, so a
token in an ack or sign-in link never leaks to another site.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from fastapi.responses import HTMLResponse

STYLE = """
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1100px;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem;margin:.2rem 0 1rem} h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:1rem 1.25rem;margin:.75rem 0}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #eceef2;vertical-align:top}
th{font-weight:600;color:#4a5263;font-size:.9rem} td.t{white-space:nowrap} td,p,h1{overflow-wrap:break-word}
table.cases td.subject{min-width:16rem}
.state{display:inline-block;white-space:nowrap;padding:0 .5rem;border-radius:999px;background:#e8eefc;color:#23408e;font-size:.85rem}
.breach{background:#fde8e8;color:#9b1c1c} .ok{color:#116329} .error{color:#9b1c1c}
.muted{color:#6b7385;font-size:.9rem} a{color:#23408e}
pre.body{white-space:pre-wrap;overflow-wrap:anywhere;font:inherit;margin:.5rem 0}
a.ack{display:inline-block;padding:.3rem .9rem;border-radius:6px;background:#23408e;color:#fff;text-decoration:none}
textarea,input[type=email]{width:100%;box-sizing:border-box;font:inherit;padding:.3rem}
textarea{min-height:5rem} button{font:inherit;padding:.4rem 1rem;border-radius:6px;border:1px solid #23408e;background:#23408e;color:#fff;cursor:pointer}
@media (max-width:640px){
main{margin:1rem auto;padding:0 .6rem} .card{padding:.75rem} td,p,h1{overflow-wrap:anywhere}
table.cases thead{display:none} table.cases,table.cases tbody,table.cases tr{display:block}
table.cases tr{border-bottom:1px solid #dde1e7;padding:.5rem 0}
table.cases td{display:flex;justify-content:space-between;gap:.75rem;border:0;padding:.15rem 0;text-align:right}
table.cases td::before{content:attr(data-label);font-weight:600;color:#4a5263;font-size:.9rem;text-align:left}
table.cases td.subject{display:block;min-width:0;text-align:left;font-size:1.05rem} table.cases td.subject::before{content:none}
td.t{white-space:normal}
}
"""
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()}'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    """`body` is already-escaped HTML; `title` is plain text."""
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def message_page(title: str, message: str, status_code: int, tone: str = "error") -> HTMLResponse:
    return page(
        title, f"<h1>{escape(title)}</h1><div class=card><p class={tone}>{escape(message)}</p></div>", status_code
    )
