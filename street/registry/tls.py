"""`street-server tls init`: the street's own certificate authority and the server's certificate.

Kiosks pin the street's CA (``[sync] ca_file``), so no public CA and no internet are needed, and
a certificate from any other CA is refused. The CA's key signs the server certificate once and is
then best kept offline (it is needed again only to renew); the server's key stays on the street
server (read by nginx, which terminates TLS: systemd/nginx/street-nginx.conf). Keys are ECDSA
P-256 and written 0600 whatever the umask; nothing existing is overwritten.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from street.errors import KeyFileError
from street.i18n import say as _

CA_DAYS = 3650
SERVER_DAYS = 825          # the CA/Browser Forum's former cap; renew with `tls init --renew` … or a new init
FILES = ("ca.key", "ca.crt", "server.key", "server.crt")


@dataclass(frozen=True)
class Made:
    folder: Path
    names: tuple[str, ...]


def _write(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyFileError(_("%(path)s already exists: nothing was overwritten") % {"path": path}) from None
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def init(folder: Path, street: str, names: list[str], now: dt.datetime | None = None) -> Made:
    """Make the CA and a server certificate for the host ``names`` (DNS names or IP addresses)."""
    if not names:
        raise KeyFileError(_("give the server's host name or address (--name), as kiosks' server_url has it"))
    if not folder.is_dir():
        raise KeyFileError(_("%(folder)s is not a folder") % {"folder": folder})
    clash = [f for f in FILES if (folder / f).exists()]
    if clash:
        raise KeyFileError(_("%(folder)s already holds %(files)s: nothing was overwritten")
                           % {"folder": folder, "files": ", ".join(clash)})
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    now = now or dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{street} street CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(folder / "ca.key", _key_pem(ca_key), 0o600)
    _write(folder / "ca.crt", ca.public_bytes(Encoding.PEM), 0o644)
    _write(folder / "server.key", _key_pem(key), 0o600)
    _write(folder / "server.crt", cert.public_bytes(Encoding.PEM), 0o644)
    return Made(folder, FILES)
