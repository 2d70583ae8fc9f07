"""Local CA and a leaf certificate for fal's host names (TLS routing mode).

Unmodified clients reach the emulator through a CONNECT proxy and still talk TLS to
"queue.fal.run" and friends, so the emulator needs a certificate for those names, signed by a CA
the user trusts via ``SSL_CERT_FILE`` / ``NODE_EXTRA_CA_CERTS``. The CA is created once per state
directory and kept across restarts so that trust, once set up, stays valid; the leaf is reissued
when it expires or when the host list changes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mockserver.fal.hosts import HOST_ROLES

try:  # POSIX only; without it concurrent first starts could race (atomic renames still hold).
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# Every host the official clients talk to (run, queue, storage, CDN, backup domains, JWKS).
FAL_HOSTS: tuple[str, ...] = tuple(HOST_ROLES)
# Extra names so the TLS listener can also be reached directly on loopback.
LOCAL_DNS_NAMES: tuple[str, ...] = ("localhost",)
LOCAL_IPS: tuple[str, ...] = ("127.0.0.1", "::1")

CA_VALIDITY = dt.timedelta(days=3650)
# 730 days stays under Apple's 825-day limit for certificates issued by user-trusted CAs.
LEAF_VALIDITY = dt.timedelta(days=730)
# Reissue a little before expiry so a long-running server does not cross the boundary right away.
RENEW_MARGIN = dt.timedelta(days=1)
# Backdate notBefore to tolerate small clock differences between processes/containers.
BACKDATE = dt.timedelta(hours=1)

CA_CERT_NAME = "ca.pem"
CA_KEY_NAME = "ca-key.pem"
SERVER_CERT_NAME = "server.pem"
SERVER_KEY_NAME = "server-key.pem"
LOCK_NAME = ".lock"

# What reading back a damaged, foreign or half-deleted file can raise; all mean "make a new one".
_UNUSABLE = (
    OSError,
    ValueError,
    TypeError,
    x509.ExtensionNotFound,
    InvalidSignature,
    UnsupportedAlgorithm,
)


@dataclass(frozen=True)
class TlsFiles:
    """Paths handed to uvicorn (server_*) and to users (ca_cert)."""

    ca_cert: Path  # PEM of the local CA: point SSL_CERT_FILE / NODE_EXTRA_CA_CERTS here
    server_cert: Path  # leaf followed by the CA, so clients get the full chain
    server_key: Path


def ensure_tls_files(state_dir: Path) -> TlsFiles:
    """Return usable CA/leaf files under ``state_dir/tls``, creating or renewing only what's needed.

    The common case (files present and valid) takes no lock and writes nothing. Creation happens
    under an exclusive file lock and every file is replaced atomically, so concurrent first starts
    agree on one CA and never see a half-written or mismatched cert/key pair.
    """
    tls_dir = Path(state_dir) / "tls"
    files = TlsFiles(
        ca_cert=tls_dir / CA_CERT_NAME,
        server_cert=tls_dir / SERVER_CERT_NAME,
        server_key=tls_dir / SERVER_KEY_NAME,
    )
    if _leaf_is_current(files, _utcnow()):
        return files
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _exclusive_lock(tls_dir / LOCK_NAME):
        now = _utcnow()
        if _leaf_is_current(files, now):  # another process finished the job while we waited
            return files
        ca_cert, ca_key = _load_or_create_ca(tls_dir, now)
        leaf_cert, leaf_key = _issue_leaf(ca_cert, ca_key, now)
        # Key before cert: a lock-free reader that sees the new cert always finds the matching key.
        _write_atomic(files.server_key, _key_pem(leaf_key), mode=0o600)
        _write_atomic(files.server_cert, _cert_pem(leaf_cert) + _cert_pem(ca_cert), mode=0o644)
    return files


def _san_entries() -> list[x509.GeneralName]:
    """Names the leaf must carry; read at call time so a changed FAL_HOSTS triggers a reissue."""
    dns = dict.fromkeys(h.lower() for h in (*FAL_HOSTS, *LOCAL_DNS_NAMES))  # ordered, deduplicated
    return [x509.DNSName(n) for n in dns] + [
        x509.IPAddress(ipaddress.ip_address(ip)) for ip in LOCAL_IPS
    ]


def _utcnow() -> dt.datetime:
    """Current UTC time; a seam so tests can move the clock."""
    return dt.datetime.now(dt.UTC)


def _leaf_is_current(files: TlsFiles, now: dt.datetime) -> bool:
    """True if the leaf is valid now, has the expected SANs, matches its key and the current CA."""
    try:
        ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        leaf = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
        key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        leaf.verify_directly_issued_by(ca)
    except _UNUSABLE:  # missing, unreadable, corrupt, or not signed by this CA
        return False
    return (
        _valid_at(ca, now)
        and _valid_at(leaf, now)
        and frozenset(san) == frozenset(_san_entries())
        and _public_der(key.public_key()) == _public_der(leaf.public_key())
    )


def _valid_at(cert: x509.Certificate, now: dt.datetime) -> bool:
    """Inside the validity window, with a renewal margin before notAfter."""
    return cert.not_valid_before_utc <= now and now + RENEW_MARGIN < cert.not_valid_after_utc


def _load_or_create_ca(
    tls_dir: Path, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Reuse the CA if it is intact and valid (users already trust it); otherwise make a new one."""
    cert_path, key_path = tls_dir / CA_CERT_NAME, tls_dir / CA_KEY_NAME
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if (
            isinstance(key, ec.EllipticCurvePrivateKey)
            and _public_der(key.public_key()) == _public_der(cert.public_key())
            and _valid_at(cert, now)
        ):
            return cert, key
    except _UNUSABLE:
        pass
    key = ec.generate_private_key(ec.SECP256R1())
    # A random suffix tells installs apart in trust stores and browser certificate viewers.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ray2-mock"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"ray2-mock local CA {secrets.token_hex(4)}"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    _write_atomic(key_path, _key_pem(key), mode=0o600)
    _write_atomic(cert_path, _cert_pem(cert), mode=0o644)
    return cert, key


def _issue_leaf(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A serverAuth leaf for every fal host plus loopback, never outliving its CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ray2-mock"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "ray2-mock fal emulator"),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + LEAF_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_san_entries()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """EC keys only sign: the CA signs certs and CRLs, the leaf signs TLS handshakes."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _public_der(public_key: PublicKeyTypes) -> bytes:
    """Canonical bytes of a public key, to check that a cert and a key belong together."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    """Write a temp file in the same directory, then rename: readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)  # mkstemp gives 0600; set the final mode before any data lands
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Serialise generation across processes (and threads: each open() is its own lock owner)."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
