"""Mutants of the ledger's "Output" rows."""

from tests.mutation.mutant import Mutant

MUTANTS = (
    Mutant(
        row="Image inputs on other hosts",
        path="mockserver/media/images.py",
        old='    if remote == "placeholder":\n',
        new='    if remote == "never":\n',
        breaks="the default mode fetches a foreign image instead of drawing a placeholder offline",
    ),
    Mutant(
        row="Model error entries",
        path="mockserver/fal/catalogue.py",
        old='ERRORS_DOC_URL = "https://docs.fal.ai/errors"',
        new='ERRORS_DOC_URL = "https://docs.fal.ai/errors/"',
        breaks="every entry's url is the docs' errors/#<type>, not the live errors#<type>",
    ),
    Mutant(
        row="Model error entries",
        path="mockserver/fal/catalogue.py",
        old="""        "type": error_type,
        "url": f"{ERRORS_DOC_URL}#{error_type}",""",
        new="""        "url": f"{ERRORS_DOC_URL}#{error_type}",
        "type": error_type,""",
        breaks="the entry's keys come in another order than live bodies",
    ),
)
