"""Mutants of the ledger's "The Ray 2 family" rows."""

from tests.mutation.mutant import Mutant

TABLE = "contracts/schemas/endpoints.json"
GEOMETRY = "contracts/schemas/geometry.py"
REFRAME_SCHEMA = "contracts/schemas/ray-2-reframe.input.json"
MODIFY_SCHEMA = "contracts/schemas/ray-2-modify.input.json"

MUTANTS = (
    Mutant(
        row="Which endpoints exist",
        path=TABLE,
        old='"id": "fal-ai/luma-dream-machine/ray-2-flash/modify",',
        new='"id": "fal-ai/luma-dream-machine/ray-2-flash/modify-video",',
        breaks="Flash modify is served under a name fal does not ship",
    ),
    Mutant(
        row="Input types",
        path=TABLE,
        old='"label": "Flash text-to-video",\n      "input": "ray-2.input.json",',
        new='"label": "Flash text-to-video",\n      "input": "ray-2-image-to-video.input.json",',
        breaks="Flash text-to-video takes image-to-video's input type",
    ),
    Mutant(
        row="Bounds the types drop",
        path=REFRAME_SCHEMA,
        old='"minLength": 1,',
        new='"minLength": 3,',
        breaks="a one-character reframe prompt is refused",
    ),
    Mutant(
        row="Bounds the types drop",
        path=MODIFY_SCHEMA,
        old='"default": "flex_1"',
        new='"default": "flex_2"',
        breaks="modify without mode runs as flex_2",
    ),
    Mutant(
        row="Field order of reframe and modify (order of 422 entries)",
        path=REFRAME_SCHEMA,
        old='"x-fal-order-properties": [\n    "video_url",\n    "aspect_ratio",',
        new='"x-fal-order-properties": [\n    "aspect_ratio",\n    "video_url",',
        breaks="reframe's 422 entries come in another order than fal's",
    ),
    Mutant(
        row="Flash output",
        path=GEOMETRY,
        old='("9:16", "540p"): (540, 960),',
        new='("9:16", "540p"): (540, 964),',
        breaks="a 9:16 540p clip is 540x964",
    ),
    Mutant(
        row="Reframe output",
        path=GEOMETRY,
        old="(side, side) for resolution, side in SHORT_SIDES.items()",
        new="(side, side + 4) for resolution, side in SHORT_SIDES.items()",
        breaks="a 1:1 reframe is not square",
    ),
    Mutant(
        row="Modify output",
        path=GEOMETRY,
        old="return _even(source.width), _even(source.height)",
        new="return _even(source.height), _even(source.width)",
        breaks="modify turns the source on its side",
    ),
    Mutant(
        row="Prices",
        path=TABLE,
        old='"unit_usd": 0.06,',
        new='"unit_usd": 0.6,',
        breaks="Flash reframe bills ten times fal's price",
    ),
    Mutant(
        row="First log line",
        path=TABLE,
        old=(
            '"start_log": "Starting generation: reframe to {aspect_ratio}",\n'
            '      "progress_log": "Generating video: {percent}%",\n'
            '      "finished_log": "Video generated",\n'
            '      "price": {\n        "unit_usd": 0.06,'
        ),
        new=(
            '"start_log": "Starting generation: {aspect_ratio}",\n'
            '      "progress_log": "Generating video: {percent}%",\n'
            '      "finished_log": "Video generated",\n'
            '      "price": {\n        "unit_usd": 0.06,'
        ),
        breaks="Flash reframe's first log line drops the word reframe",
    ),
    Mutant(
        row="Where `video_url` comes from",
        path="mockserver/storage/api.py",
        old='ours = HOST_ROLES.get(host) == "cdn" or is_loopback(host) or host == self.config.host',
        new="ours = is_loopback(host) or host == self.config.host",
        breaks="an output URL in fal's CDN form is treated as a foreign video, not read back",
    ),
    Mutant(
        row="Webhooks, journal, dashboard, scenarios per member",
        path="mockserver/chaos/model.py",
        old="if self.endpoints is not None and endpoint_id not in self.endpoints:",
        new="if False:",
        breaks="a scenario aimed at one family member hits every member",
    ),
)
