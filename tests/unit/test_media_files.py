"""Other generated files parse as what they claim to be, read by the formats' own rules.

GLB: the glTF 2.0 specification's binary layout (a 12-byte header ``magic, version, length``;
chunks of ``length, type, data``; type 0x4E4F534A JSON first, then 0x004E4942 BIN; chunk data
4-byte aligned). safetensors: an 8-byte little-endian header size, then that many bytes of JSON.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile

import pytest

from mockserver.media.files import FILE_KINDS, file_bytes


def glb_chunks(data: bytes) -> list[tuple[int, bytes]]:
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    chunks, offset = [], 12
    while offset < len(data):
        size, kind = struct.unpack_from("<II", data, offset)
        assert size % 4 == 0
        chunks.append((kind, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size
    assert offset == len(data)
    return chunks


def test_glb_is_a_cube() -> None:
    chunks = glb_chunks(file_bytes("glb", "a chair", "caption"))
    assert [kind for kind, _ in chunks] == [0x4E4F534A, 0x004E4942]
    document = json.loads(chunks[0][1])
    binary = chunks[1][1]
    assert document["asset"]["version"] == "2.0"
    assert document["buffers"][0]["byteLength"] <= len(binary)
    primitive = document["meshes"][0]["primitives"][0]
    position = document["accessors"][primitive["attributes"]["POSITION"]]
    view = document["bufferViews"][position["bufferView"]]
    assert position["componentType"] == 5126 and position["type"] == "VEC3"  # FLOAT, 3 per vertex
    points = struct.unpack_from(f"<{position['count'] * 3}f", binary, view.get("byteOffset", 0))
    corners = {tuple(points[i : i + 3]) for i in range(0, len(points), 3)}
    assert corners == {(x, y, z) for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)}
    indices = document["accessors"][primitive["indices"]]
    assert indices["count"] == 36  # 6 faces x 2 triangles x 3 corners


def test_glb_colour_follows_the_seed() -> None:
    def colour(seed: str) -> list[float]:
        document = json.loads(glb_chunks(file_bytes("glb", seed, "c"))[0][1])
        return document["materials"][0]["pbrMetallicRoughness"]["baseColorFactor"]

    assert colour("a") == colour("a") != colour("b")


def test_obj_ply_stl_describe_a_cube() -> None:
    obj = file_bytes("obj", "s", "c").decode().splitlines()
    assert sum(line.startswith("v ") for line in obj) == 8
    assert sum(line.startswith("f ") for line in obj) == 12
    ply = file_bytes("ply", "s", "c").decode().splitlines()
    assert ply[0] == "ply" and "element vertex 8" in ply and "element face 12" in ply
    assert len(ply) == ply.index("end_header") + 1 + 8 + 12
    stl = file_bytes("stl", "s", "c").decode()
    assert stl.startswith("solid ") and stl.count("facet normal") == 12


def test_zip_opens() -> None:
    with zipfile.ZipFile(io.BytesIO(file_bytes("zip", "s", "a caption"))) as archive:
        assert archive.testzip() is None
        assert "a caption" in archive.read(archive.namelist()[0]).decode()


def test_safetensors_header() -> None:
    data = file_bytes("safetensors", "s", "c")
    (size,) = struct.unpack_from("<Q", data, 0)
    assert len(data) == 8 + size
    assert set(json.loads(data[8:])) == {"__metadata__"}  # no tensors, only metadata


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_every_kind_is_deterministic(kind: str) -> None:
    assert file_bytes(kind, "seed", "caption") == file_bytes(kind, "seed", "caption")
