"""Mutants of the ledger's "Uploads" rows."""

from tests.mutation.mutant import Mutant

MUTANTS = (
    Mutant(
        row="CDN token answer",
        path="mockserver/storage/api.py",
        old='"created_at": iso_time(created_at),\n',
        new="",
        breaks="the token answer lacks fal's created_at",
    ),
    Mutant(
        row="CDN token answer",
        path="mockserver/storage/inputs.py",
        old='isoformat(timespec="microseconds")',
        new='isoformat(timespec="seconds")',
        breaks="token timestamps lose the microseconds fal writes",
    ),
    Mutant(
        row="CDN token lifetime",
        path="mockserver/storage/inputs.py",
        old="TOKEN_SECONDS = 30 * 86400.0",
        new="TOKEN_SECONDS = 3600.0",
        breaks="a CDN token expires after an hour instead of fal's 30 days",
    ),
    Mutant(
        row="CDN token `base_url`",
        path="mockserver/storage/api.py",
        old='"base_url": public_base(request, FILES_BASE),',
        new='"base_url": public_base(request),',
        breaks="through fal's hosts the token points multipart uploads at v3, not v3b",
    ),
    Mutant(
        row="Single upload answer",
        path="mockserver/storage/api.py",
        old='"uploaded": True}',
        new="}",
        breaks="the single upload answer lacks fal's uploaded: true",
    ),
    Mutant(
        row="Uploaded file URL",
        path="mockserver/storage/files.py",
        old="object_id=new_file_id(),",
        new="object_id=secrets.token_urlsafe(12),",
        breaks="uploaded files get 16-character ids instead of fal's 21",
    ),
    Mutant(
        row="Uploaded file URL",
        path="mockserver/storage/inputs.py",
        old='return cdn_file_url(request, obj.shard or "", obj.object_id, obj.file_name)',
        new='return cdn_file_url(request, obj.shard or "", obj.object_id, "upload.bin")',
        breaks="an uploaded file's URL loses the name the client sent",
    ),
    Mutant(
        row="Uploaded file URL",
        path="mockserver/storage/api.py",
        old='_route(LEGACY_OBJECT_ROUTE, lambda s: s.get_object, "GET"),',
        new="",
        breaks="files stored by an earlier version are no longer served",
    ),
    Mutant(
        row="Serving an uploaded file",
        path="mockserver/storage/api.py",
        old="media_type=obj.content_type,",
        new='media_type="application/octet-stream",',
        breaks="an uploaded file comes back without the content type it was stored with",
    ),
    Mutant(
        row="Storage types",
        path="mockserver/storage/api.py",
        old='request.query_params.get("storage_type", STORAGE_TYPE) == STORAGE_TYPE:',
        new='request.query_params.get("storage_type", STORAGE_TYPE) in (STORAGE_TYPE, "fal-cdn"):',
        breaks="the legacy fal-cdn storage type still works",
    ),
    Mutant(
        row="Storage types",
        path="mockserver/storage/inputs.py",
        old="""INVALID_STORAGE_TYPE = b'{"detail":"Invalid storage type"}'""",
        new="""INVALID_STORAGE_TYPE = b'{"detail": "Invalid storage type"}'""",
        breaks="the storage-type 400 is not byte for byte fal's",
    ),
    Mutant(
        row="Python client's upload fallback",
        path="mockserver/storage/api.py",
        old='request.query_params.get("storage_type", STORAGE_TYPE) == STORAGE_TYPE:',
        new='request.query_params.get("storage_type", STORAGE_TYPE) in (STORAGE_TYPE, "gcs"):',
        breaks="a failed v3 upload is masked by a gcs fallback that live fal refuses",
    ),
)
