"""fal's endpoint catalogue, made from the types ``@fal-ai/client`` ships.

``python -m contracts.catalogue.generate`` turns ``src/types/endpoints.d.ts`` of the pinned
client into ``contracts/schemas/catalogue.json.gz`` with a TypeScript tool (``tools/``, pinned by
its own ``package-lock.json``); ``contracts.schemas.catalogue`` reads the file.
"""
