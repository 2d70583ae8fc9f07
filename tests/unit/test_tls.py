"""Local CA and leaf: real handshakes prove clients trusting ca.pem accept every fal host."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from mockserver.serving import tls
from mockserver.serving.tls import FAL_HOSTS, TlsFiles, ensure_tls_files


def _client_context(files: TlsFiles) -> ssl.SSLContext:
    """What a user's client does with SSL_CERT_FILE, plus the strict checks newer Pythons enable."""
    ctx = ssl.create_default_context(cafile=str(files.ca_cert))
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    return ctx


def _leaf(files: TlsFiles) -> x509.Certificate:
    return x509.load_pem_x509_certificate(files.server_cert.read_bytes())


def _snapshot(files: TlsFiles) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (files.ca_cert, files.server_cert, files.server_key)}


def test_creates_files_with_private_keys_0600(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path)
    assert files.ca_cert.parent == tmp_path / "tls"
    for path in (files.ca_cert, files.server_cert, files.server_key):
        assert path.is_file() and path.stat().st_size > 0
    for key in (files.server_key, tmp_path / "tls" / tls.CA_KEY_NAME):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.ca_cert.stat().st_mode) == 0o644
    assert not list((tmp_path / "tls").glob("*.tmp")), "temp files must not be left behind"


def test_reuse_is_stable_and_makes_no_new_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart reuses the CA and the leaf as they are: no key is made (the slow part, and
    a new CA would break the trust users set up), nothing is rewritten."""
    first = ensure_tls_files(tmp_path)
    before = _snapshot(first)

    def no_new_key(*args: object, **kwargs: object) -> None:
        raise AssertionError("reuse generated a key")

    monkeypatch.setattr(tls.ec, "generate_private_key", no_new_key)
    for _ in range(3):
        again = ensure_tls_files(tmp_path)
    assert again == first
    assert _snapshot(again) == before, "reuse must not rewrite anything (the CA stays trusted)"


def test_certificate_profile(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    leaf = _leaf(files)

    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > dt.timedelta(days=9 * 365)

    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {*FAL_HOSTS, "localhost"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert dt.timedelta(days=700) < leaf.not_valid_after_utc - dt.datetime.now(dt.UTC)
    leaf.verify_directly_issued_by(ca)

    # server.pem carries the chain: leaf first, then the CA.
    chain = x509.load_pem_x509_certificates(files.server_cert.read_bytes())
    assert [c.subject for c in chain] == [leaf.subject, ca.subject]
    key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
    assert key.public_key() == leaf.public_key()


async def test_handshake_verifies_for_every_host(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(files.server_cert, files.server_key)

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hi")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    client_ctx = _client_context(files)

    async def handshake(name: str) -> bytes:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx, server_hostname=name
        )
        try:
            return await reader.read(2)
        finally:
            writer.close()
            # The server closes without close_notify; that is fine for this check.
            await asyncio.gather(writer.wait_closed(), return_exceptions=True)

    async with server:
        # IP names are checked against the IP SANs; ::1 needs no IPv6 route for that check.
        for name in (*FAL_HOSTS, "localhost", "127.0.0.1", "::1"):
            assert await handshake(name) == b"hi", name
        with pytest.raises(ssl.SSLCertVerificationError):
            await handshake("example.com")


def test_san_change_reissues_leaf_and_keeps_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = ensure_tls_files(tmp_path)
    before = _snapshot(files)
    monkeypatch.setattr(tls, "FAL_HOSTS", (*FAL_HOSTS, "new.fal.run"))
    ensure_tls_files(tmp_path)
    after = _snapshot(files)
    assert after[files.ca_cert.name] == before[files.ca_cert.name]
    assert after[files.server_cert.name] != before[files.server_cert.name]
    san = _leaf(files).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "new.fal.run" in san.get_values_for_type(x509.DNSName)


def test_expiring_leaf_is_reissued_with_same_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = ensure_tls_files(tmp_path)
    before = _snapshot(files)
    old_leaf = _leaf(files)
    later = old_leaf.not_valid_after_utc - dt.timedelta(hours=1)  # inside the renewal margin
    monkeypatch.setattr(tls, "_utcnow", lambda: later)
    ensure_tls_files(tmp_path)
    assert _snapshot(files)[files.ca_cert.name] == before[files.ca_cert.name]
    assert _leaf(files).not_valid_after_utc > old_leaf.not_valid_after_utc


@pytest.mark.parametrize("damaged", [tls.SERVER_CERT_NAME, tls.SERVER_KEY_NAME])
def test_damaged_leaf_is_repaired_and_ca_kept(tmp_path: Path, damaged: str) -> None:
    files = ensure_tls_files(tmp_path)
    ca_before = files.ca_cert.read_bytes()
    (tmp_path / "tls" / damaged).write_bytes(b"-----BEGIN garbage")
    ensure_tls_files(tmp_path)
    assert files.ca_cert.read_bytes() == ca_before
    key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
    assert key.public_key() == _leaf(files).public_key()


def test_lost_ca_key_means_new_ca_and_leaf(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path)
    ca_before = files.ca_cert.read_bytes()
    (tmp_path / "tls" / tls.CA_KEY_NAME).unlink()
    files.server_cert.write_bytes(b"")  # force a reissue, which needs the CA key
    ensure_tls_files(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    assert files.ca_cert.read_bytes() != ca_before
    _leaf(files).verify_directly_issued_by(ca)


_CHILD = """
import hashlib, sys, time
from pathlib import Path
from mockserver.serving.tls import ensure_tls_files
state, go = Path(sys.argv[1]), Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():  # start line: without it, interpreter start-up skew hides the race
    time.sleep(0.001)
f = ensure_tls_files(state)
print(hashlib.sha256(f.ca_cert.read_bytes()).hexdigest())
"""


def test_concurrent_first_start_agrees_on_one_ca(tmp_path: Path) -> None:
    state, go = tmp_path / "state", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(state), str(go)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    go.touch()
    digests = {p.communicate(timeout=30)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    files = ensure_tls_files(state)
    assert digests == {hashlib.sha256(files.ca_cert.read_bytes()).hexdigest()}
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    _leaf(files).verify_directly_issued_by(ca)
    key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
    assert key.public_key() == _leaf(files).public_key()
