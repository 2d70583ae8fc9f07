"""Mutants of the ledger's "The Ray 2 family" rows."""

from tests.mutation.mutant import Mutant

MUTANTS = (
    Mutant(
        row="A `video_url` that is not a usable video",
        path="mockserver/media/videos.py",
        old="    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:",
        new="    except (EOFError,) as exc:",
        breaks="a file PyAV cannot parse is a 500, not fal's 422 on video_url",
    ),
)
