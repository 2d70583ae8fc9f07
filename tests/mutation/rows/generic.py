"""Mutants of the ledger's "Every other endpoint (fal's catalogue, answered by rule)" rows."""

from tests.mutation.mutant import Mutant

MUTANTS = (
    Mutant(
        row="Which other endpoints exist",
        path="mockserver/fal/endpoints.py",
        old="    facts = catalogue_facts(endpoint_id)\n",
        new="    facts = None\n",
        breaks="no endpoint of the catalogue is served",
    ),
    Mutant(
        row="An endpoint fal does not have",
        path="mockserver/fal/unknown.py",
        old="NO_SUCH_APPLICATION = \"Application '{alias}' not found\"",
        new="NO_SUCH_APPLICATION = \"No emulated endpoint '{alias}'\"",
        breaks="a missing app answers a detail fal does not send",
    ),
    Mutant(
        row="Requests of any endpoint are addressed by owner/alias",
        path="mockserver/fal/api.py",
        old="    return owner_alias(record.endpoint_id)",
        new='    return "fal-ai/luma-dream-machine"',
        breaks="every request's URLs are under Ray 2's owner/alias",
    ),
    Mutant(
        row="Image sizes of `image_size` presets",
        path="mockserver/media/stills.py",
        old='"landscape_16_9": (1024, 576),',
        new='"landscape_16_9": (1024, 768),',
        breaks="landscape_16_9 is not fal's toolkit's 1024x576",
    ),
    Mutant(
        row="Input validation of a generic endpoint",
        path="mockserver/fal/validation.py",
        old='"integer": int, "number": int | float}',
        new='"integer": int, "number": Any}',
        breaks="a number field takes any value",
    ),
    Mutant(
        row="An endpoint described by fal's own OpenAPI document",
        path="contracts/schemas/endpoints.py",
        old="    spec = registered_spec(endpoint_id)\n",
        new="    spec = None\n",
        breaks="a document dropped in is ignored",
    ),
)
