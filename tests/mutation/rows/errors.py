"""Mutants of the ledger's "Model errors" rows."""

from tests.mutation.mutant import Mutant

MUTANTS = (
    Mutant(
        row="`file_download_error`",
        path="mockserver/media/images.py",
        old='MediaInputError(field, "file_download_error", None, url, why=why)',
        new='MediaInputError(field, "file_download_error", f"Failed to download: {why}", url)',
        breaks="the emulator's reason replaces fal's fixed sentence in msg",
    ),
    Mutant(
        row="`input` of a model error entry",
        path="mockserver/fal/catalogue.py",
        old="    if len(loc) < 2 or kind_name in WHOLE_INPUT_TYPES:",
        new="    if len(loc) < 2:",
        breaks="a content-policy violation echoes the prompt alone, not the input object",
    ),
    Mutant(
        row="`input` of a model error entry",
        path="mockserver/fal/catalogue.py",
        old='        cut = value.startswith("data:") and len(value) > ECHO_LIMIT',
        new="        cut = len(value) > ECHO_LIMIT",
        breaks="a long URL is echoed cut short, unlike live bodies",
    ),
    Mutant(
        row="`input` of a model error entry",
        path="mockserver/fal/catalogue.py",
        old="    if given is not None:\n",
        new="    if True:\n",
        breaks='an entry with nothing to echo says "input": null',
    ),
    Mutant(
        row="`content_policy_violation`",
        path="mockserver/fal/catalogue.py",
        old='        " content checker.",',
        new='        " content checker",',
        breaks="the content-policy msg is not the captured sentence",
    ),
    Mutant(
        row="`no_media_generated`",
        path="mockserver/fal/catalogue.py",
        old='422, "The model did not generate the expected output for this prompt.", True',
        new='422, "No media was generated", True',
        breaks="no_media_generated says the emulator's words, not fal's documented sentence",
    ),
    Mutant(
        row=(
            "Statuses of `internal_server_error`, `generation_timeout`,"
            " `downstream_service_error`, `downstream_service_unavailable`"
        ),
        path="mockserver/fal/catalogue.py",
        old='ErrorKind(400, "Downstream service error", True)',
        new='ErrorKind(500, "Downstream service error", True)',
        breaks="downstream_service_error answers 500, not the documented 400",
    ),
    Mutant(
        row="Headers of a model error",
        path="mockserver/fal/catalogue.py",
        old='return {"x-fal-billable-units": "0", "x-fal-retryable": ',
        new='return {"x-fal-retryable": ',
        breaks="model errors lose x-fal-billable-units: 0",
    ),
    Mutant(
        row="Headers of a model error",
        path="mockserver/fal/catalogue.py",
        old='"body": body, "headers": {}}',
        new='"body": body, "headers": {"x-fal-retryable": "false"}}',
        breaks="request errors carry X-Fal-Retryable, a model-error header",
    ),
    Mutant(
        row="`video_duration_too_long`",
        path="mockserver/media/videos.py",
        old=', "provided_duration": _number(seconds)}',
        new="}",
        breaks="the duration error drops the documented provided_duration",
    ),
    Mutant(
        row="`unsupported_video_format`",
        path="mockserver/media/videos.py",
        old='SUPPORTED_FORMATS = (".mp4", ".mov", ".webm")',
        new='SUPPORTED_FORMATS = ("mp4", "mov", "webm")',
        breaks="the supported formats lose their dots (sentence and ctx)",
    ),
    Mutant(
        row="An input file over the size limit",
        path="mockserver/media/images.py",
        old="""    return MediaInputError(
        field,
        "file_too_large",""",
        new="""    return MediaInputError(
        field,
        "file_download_error",""",
        breaks="an oversized input is a download error, not fal's file_too_large",
    ),
    Mutant(
        row="`image_load_error`",
        path="mockserver/fal/catalogue.py",
        old='"Failed to load the image. Please ensure the image file is not corrupted and is in a"',
        new='"Failed to load the image: please ensure the image file is not corrupted and is in a"',
        breaks="image_load_error's msg is not the toolkit's sentence",
    ),
    Mutant(
        row="`image_too_large`",
        path="mockserver/media/images.py",
        old='ctx={"max_height": MAX_IMAGE_SIDE, "max_width": MAX_IMAGE_SIDE},',
        new='ctx={"max_width": MAX_IMAGE_SIDE, "max_height": MAX_IMAGE_SIDE},',
        breaks="image_too_large's ctx keys come in another order than fal's",
    ),
    Mutant(
        row="A fal CDN file the emulator did not issue",
        path="mockserver/storage/api.py",
        old='if HOST_ROLES.get(host) == "cdn" and self.store.output(match["file_id"]) is None:',
        new="if False:",
        breaks="a real fal output URL pasted from a live run is refused with a 422",
    ),
    Mutant(
        row="fal's published example media, downloaded",
        path="mockserver/app.py",
        old="*CDN_ROUTES, *EXAMPLE_ROUTES]",
        new="*CDN_ROUTES]",
        breaks="downloading fal's published example files through env mode is a 404",
    ),
)
