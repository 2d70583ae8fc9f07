"""Mutants of the ledger's "Submit and validation" rows."""

from tests.mutation.mutant import Mutant

API = "mockserver/fal/api.py"
VALIDATION = "mockserver/fal/validation.py"
T2V_SCHEMA = "contracts/schemas/ray-2.input.json"

MUTANTS = (
    Mutant(
        row="Queue submit with input the app rejects",
        path=API,
        old="validate_now=self.config.validate_at_submit,",
        new="validate_now=True,",
        breaks="the queue answers invalid input with a 422 at submit instead of accepting it",
    ),
    Mutant(
        row="Opt-in fast failure",
        path=API,
        old="validate_now=self.config.validate_at_submit,",
        new="validate_now=False,",
        breaks="--validate-at-submit no longer answers the 422 at submit",
    ),
    Mutant(
        row="Sync run with invalid input",
        path=API,
        old='validate_now=True, admit=self._free_slot, mode="sync"',
        new='validate_now=False, admit=self._free_slot, mode="sync"',
        breaks="sync run queues an invalid request and answers once it has run",
    ),
    Mutant(
        row="422 body",
        path=VALIDATION,
        old="exc.errors(include_url=False)",
        new="exc.errors(include_url=True)",
        breaks="422 entries carry pydantic's url, which FastAPI drops",
    ),
    Mutant(
        row="422 body",
        path=API,
        old='EncodedJSON(encode_app({"detail": detail}), 422, [*NO_BILLABLE_UNITS])',
        new='gateway_json({"detail": detail}, 422, headers={"x-fal-billable-units": "0"})',
        breaks="the app's 422 is written with the gateway's spacing, not FastAPI's compact JSON",
    ),
    Mutant(
        row="Headers of that 422",
        path=API,
        old="422, [*NO_BILLABLE_UNITS])",
        new="422, [])",
        breaks="sync run's 422 loses x-fal-billable-units: 0",
    ),
    Mutant(
        row="Headers of that 422",
        path="mockserver/queue.py",
        old='"headers": {"x-fal-billable-units": "0"},',
        new='"headers": {},',
        breaks="the queued result's 422 loses x-fal-billable-units: 0",
    ),
    Mutant(
        row="Lax coercions",
        path=VALIDATION,
        old="validate_python(body, from_attributes=True)",
        new="validate_python(body, from_attributes=True, strict=True)",
        breaks='"true", 1 and "yes" stop being booleans',
    ),
    Mutant(
        row="A JSON `null` body, an empty body",
        path=VALIDATION,
        old="if body is NO_BODY or body is None:",
        new="if body is NO_BODY:",
        breaks="a JSON null body is a model_attributes_type error instead of a missing body",
    ),
    Mutant(
        row="Body that is not JSON under a JSON type",
        path=VALIDATION,
        old='"loc": ["body", position],',
        new='"loc": ["body"],',
        breaks="json_invalid loses the offset in its loc",
    ),
    Mutant(
        row="Body that cannot be decoded (bad UTF-8, nested too deep, a 10,000-digit number)",
        path=VALIDATION,
        old='detail = "There was an error parsing the body"',
        new='detail = "Could not parse the body"',
        breaks="the undecodable-body 400 has another text than FastAPI's",
    ),
    Mutant(
        row="Other content types (`text/plain`, …)",
        path=VALIDATION,
        old='return raw.decode("utf-8", "replace"), []',
        new="return parse_json(raw)",
        breaks="a JSON body under text/plain is read as JSON instead of reaching the model raw",
    ),
    Mutant(
        row="`curl -d` (form type) or no content type with a JSON body",
        path=VALIDATION,
        old='FORM_AS_JSON = "application/x-www-form-urlencoded"',
        new='FORM_AS_JSON = "application/x-never-sent"',
        breaks="curl -d's form type gets a 422 instead of working as in fal's examples",
    ),
    Mutant(
        row="NaN / Infinity in the body",
        path=VALIDATION,
        old="_DECODER = json.JSONDecoder(parse_constant=_reject_constant)",
        new="_DECODER = json.JSONDecoder()",
        breaks="NaN parses and reaches the model",
    ),
    Mutant(
        row="`prompt` length",
        path=T2V_SCHEMA,
        old='"minLength": 3,',
        new='"minLength": 2,',
        breaks="a two-character prompt is accepted",
    ),
    Mutant(
        row="`prompt` length",
        path=T2V_SCHEMA,
        old='"maxLength": 5000,',
        new='"maxLength": 6000,',
        breaks="a 5,001-character prompt is accepted",
    ),
    Mutant(
        row="Input fields, enums, defaults, descriptions",
        path=T2V_SCHEMA,
        old='"description": "The aspect ratio of the generated video",',
        new='"description": "The aspect ratio of the video",',
        breaks="a field description drifts from fal's generated types",
    ),
    Mutant(
        row="`--api-key` values",
        path="mockserver/config.py",
        old="if self.api_key is not None and not is_well_formed_key(self.api_key):",
        new="if False:",
        breaks="a key without key_id:key_secret is accepted at start, then never matches",
    ),
)
