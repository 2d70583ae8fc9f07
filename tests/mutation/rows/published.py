"""Mutants of the ledger's "Published OpenAPI (fal.ai)" rows and the per-member document."""

from tests.mutation.mutant import Mutant

PUBLISHED = "mockserver/fal/published.py"

MUTANTS = (
    Mutant(
        row="fal's OpenAPI of an endpoint",
        path=PUBLISHED,
        old='QUEUE_SERVER = "https://queue.fal.run"',
        new='QUEUE_SERVER = "https://fal.run"',
        breaks="the document names the sync host as its server",
    ),
    Mutant(
        row="fal's OpenAPI of an endpoint",
        path=PUBLISHED,
        old='request_path = f"/{endpoint_id}/requests/{{request_id}}"',
        new='request_path = f"/fal-ai/luma-dream-machine/requests/{{request_id}}"',
        breaks="the document's request paths are owner/alias where fal lists the full id",
    ),
    Mutant(
        row="fal's OpenAPI of an endpoint",
        path="contracts/schemas/ray-2.input.json",
        old='"default": "540p"',
        new='"default": "720p"',
        breaks="the published input (and the contract) change a default fal publishes",
    ),
    Mutant(
        row="Other paths on fal.ai, an unknown `endpoint_id`",
        path=PUBLISHED,
        old='        404,\n        f"No emulated route at',
        new='        410,\n        f"No emulated route at',
        breaks="other fal.ai paths answer 410",
    ),
    Mutant(
        row="Published OpenAPI of each member",
        path=PUBLISHED,
        old='"category": endpoint.kind,',
        new='"category": "video",',
        breaks="reframe and modify are published under another category",
    ),
)
