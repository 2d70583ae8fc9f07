"""Other output files: 3D meshes (GLB, OBJ), archives, weights, JSON and text, all real and small.

Each kind is one entry of ``FILE_KINDS`` (extension, content type, builder); a builder takes the
seed text (the look's colour comes from it) and a caption, and returns the file's bytes. Same
arguments, same bytes: no timestamps (the archive's entries carry a fixed date).

- ``glb``: a binary glTF 2.0 file (the Khronos glTF 2.0 specification's GLB layout: a 12-byte
  header, a JSON chunk padded with spaces, a BIN chunk padded with zeros) holding one cube, its
  base colour from the seed's look.
- ``obj``, ``ply``, ``stl``: the same cube as Wavefront OBJ, ASCII PLY or ASCII STL text.
- ``zip``: a zip archive with a README naming what it stands for.
- ``safetensors``: a safetensors file with no tensors (an 8-byte little-endian header length,
  then the JSON header with ``__metadata__`` only): what a LoRA trainer's output parses as.
- ``json``, ``txt``: the caption as JSON or text.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .drawing import look_for

GLB_MAGIC = b"glTF"
GLB_VERSION = 2
CHUNK_JSON = 0x4E4F534A  # "JSON"
CHUNK_BIN = 0x004E4942  # "BIN\0"
FLOAT, UNSIGNED_SHORT = 5126, 5123  # glTF component types
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963  # glTF buffer view targets
ZIP_DATE = (2020, 1, 1, 0, 0, 0)

CUBE_POSITIONS: tuple[tuple[float, float, float], ...] = tuple(
    (x, y, z) for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)
)
# Two counter-clockwise triangles per face, outward normals (vertex i = 4x + 2y + z).
CUBE_TRIANGLES: tuple[tuple[int, int, int], ...] = (
    (0, 1, 3), (0, 3, 2),  # x = -0.5
    (4, 6, 7), (4, 7, 5),  # x = +0.5
    (0, 4, 5), (0, 5, 1),  # y = -0.5
    (2, 3, 7), (2, 7, 6),  # y = +0.5
    (0, 2, 6), (0, 6, 4),  # z = -0.5
    (1, 5, 7), (1, 7, 3),  # z = +0.5
)  # fmt: skip


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 4)


def _base_color(seed_text: str) -> list[float]:
    r, g, b = look_for(seed_text, loop=True).background
    return [round(r / 255, 4), round(g / 255, 4), round(b / 255, 4), 1.0]


def glb_bytes(seed_text: str, caption: str) -> bytes:
    """One cube as a binary glTF 2.0 file."""
    positions = b"".join(struct.pack("<3f", *p) for p in CUBE_POSITIONS)
    indices = _pad(b"".join(struct.pack("<3H", *t) for t in CUBE_TRIANGLES), b"\0")
    binary = positions + indices
    document = {
        "asset": {"version": "2.0", "generator": "ray2-mock", "extras": {"caption": caption}},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "cube"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1, "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": _base_color(seed_text)}}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(positions), "target": ARRAY_BUFFER},
            {
                "buffer": 0,
                "byteOffset": len(positions),
                "byteLength": len(CUBE_TRIANGLES) * 6,
                "target": ELEMENT_ARRAY_BUFFER,
            },
        ],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": FLOAT,
                "count": len(CUBE_POSITIONS),
                "type": "VEC3",
                "min": [-0.5, -0.5, -0.5],
                "max": [0.5, 0.5, 0.5],
            },
            {
                "bufferView": 1,
                "componentType": UNSIGNED_SHORT,
                "count": len(CUBE_TRIANGLES) * 3,
                "type": "SCALAR",
            },
        ],
    }
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    chunks = b"".join(
        struct.pack("<II", len(data), kind) + data
        for kind, data in ((CHUNK_JSON, _pad(text, b" ")), (CHUNK_BIN, binary))
    )
    return struct.pack("<4sII", GLB_MAGIC, GLB_VERSION, 12 + len(chunks)) + chunks


def obj_bytes(seed_text: str, caption: str) -> bytes:
    lines = [f"# ray2-mock: {caption}", "o cube"]
    lines += [f"v {x} {y} {z}" for x, y, z in CUBE_POSITIONS]
    lines += ["f " + " ".join(str(i + 1) for i in t) for t in CUBE_TRIANGLES]
    return ("\n".join(lines) + "\n").encode("utf-8")


def ply_bytes(seed_text: str, caption: str) -> bytes:
    lines = ["ply", "format ascii 1.0", f"comment ray2-mock: {caption}"]
    lines += [f"element vertex {len(CUBE_POSITIONS)}"] + [f"property float {a}" for a in "xyz"]
    lines += [f"element face {len(CUBE_TRIANGLES)}", "property list uchar int vertex_indices"]
    lines += ["end_header"] + [f"{x} {y} {z}" for x, y, z in CUBE_POSITIONS]
    lines += ["3 " + " ".join(map(str, t)) for t in CUBE_TRIANGLES]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _normal(a: int, b: int, c: int) -> tuple[float, float, float]:
    (ax, ay, az), (bx, by, bz), (cx, cy, cz) = (CUBE_POSITIONS[i] for i in (a, b, c))
    ux, uy, uz, vx, vy, vz = bx - ax, by - ay, bz - az, cx - ax, cy - ay, cz - az
    n = (uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx)
    length = sum(v * v for v in n) ** 0.5
    return (n[0] / length, n[1] / length, n[2] / length)


def stl_bytes(seed_text: str, caption: str) -> bytes:
    lines = ["solid cube"]
    for t in CUBE_TRIANGLES:
        lines += ["  facet normal {} {} {}".format(*_normal(*t)), "    outer loop"]
        lines += ["      vertex {} {} {}".format(*CUBE_POSITIONS[i]) for i in t]
        lines += ["    endloop", "  endfacet"]
    lines.append("endsolid cube")
    return ("\n".join(lines) + "\n").encode("utf-8")


def zip_bytes(seed_text: str, caption: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entry = zipfile.ZipInfo("README.txt", date_time=ZIP_DATE)
        entry.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(entry, f"ray2-mock synthetic archive: {caption}\n")
    return buffer.getvalue()


def safetensors_bytes(seed_text: str, caption: str) -> bytes:
    header = json.dumps(
        {"__metadata__": {"format": "pt", "generator": "ray2-mock", "caption": caption}},
        separators=(",", ":"),
    ).encode("utf-8")
    header = header + b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header


def json_bytes(seed_text: str, caption: str) -> bytes:
    body = {"generator": "ray2-mock", "caption": caption}
    return json.dumps(body, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def text_bytes(seed_text: str, caption: str) -> bytes:
    return f"ray2-mock synthetic file: {caption}\n".encode()


@dataclass(frozen=True)
class FileKind:
    extension: str
    content_type: str
    build: Callable[[str, str], bytes]


FILE_KINDS: Mapping[str, FileKind] = {
    "glb": FileKind(".glb", "model/gltf-binary", glb_bytes),
    "obj": FileKind(".obj", "model/obj", obj_bytes),
    "ply": FileKind(".ply", "application/octet-stream", ply_bytes),
    "stl": FileKind(".stl", "model/stl", stl_bytes),
    "zip": FileKind(".zip", "application/zip", zip_bytes),
    "safetensors": FileKind(".safetensors", "application/octet-stream", safetensors_bytes),
    "json": FileKind(".json", "application/json", json_bytes),
    "txt": FileKind(".txt", "text/plain", text_bytes),
}
KIND_BY_CONTENT_TYPE: Mapping[str, str] = {
    **{kind.content_type: name for name, kind in reversed(list(FILE_KINDS.items()))},
    "application/octet-stream": "safetensors",
    "model/gltf+json": "glb",
    "application/x-zip-compressed": "zip",
}
MESH_KINDS: tuple[str, ...] = ("glb", "obj", "ply", "stl")
"""The kinds that are 3D meshes (a mesh asked in another format, FBX or USDZ, gets a GLB)."""
KIND_BY_EXTENSION: Mapping[str, str] = {
    **{kind.extension: name for name, kind in FILE_KINDS.items()},
    ".gltf": "glb",
    ".text": "txt",
}


def file_bytes(kind: str, seed_text: str, caption: str) -> bytes:
    return FILE_KINDS[kind].build(seed_text, caption)
