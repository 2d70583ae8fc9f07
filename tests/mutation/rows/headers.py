"""Mutants of the ledger's "Headers" rows."""

from tests.mutation.mutant import Mutant

MUTANTS = (
    Mutant(
        row="`x-fal-billable-units` on a successful answer",
        path="mockserver/fal/api.py",
        old='headers["x-fal-billable-units"] = str(record.cost_units)',
        new='headers["x-fal-billable-units"] = "1"',
        breaks="every success states one unit, whatever the ledger charges",
    ),
    Mutant(
        row="Ingress error page",
        path="mockserver/chaos/model.py",
        old='NGINX_HEADERS = {"content-type": "text/html"}',
        new='NGINX_HEADERS = {"content-type": "text/html; charset=utf-8"}',
        breaks="the ingress page's content type is Starlette's, not nginx's",
    ),
    Mutant(
        row="`Server` header",
        path="mockserver/serving/server.py",
        old="server_header=False,",
        new="server_header=True,",
        breaks="every answer says server: uvicorn, which fal never does",
    ),
    Mutant(
        row="`X-Fal-Served-From`",
        path="mockserver/fal/api.py",
        old='headers = {"x-fal-request-id": record.request_id}',
        new='headers = {"x-fal-request-id": record.request_id, "x-fal-served-from": "runner-1"}',
        breaks="results carry an invented runner identifier",
    ),
)
