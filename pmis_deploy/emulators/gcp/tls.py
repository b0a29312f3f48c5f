"""HTTPS for the APIs gcloud cannot be pointed elsewhere (no CLOUDSDK_API_ENDPOINT_OVERRIDES_<API> property).

gcloud 528 has no endpoint-override property for Service Networking (`gcloud services vpc-peerings`
always calls https://servicenetworking.googleapis.com). Its requests still reach the fake, which is
gcloud's HTTP proxy, as `CONNECT servicenetworking.googleapis.com:443`. For the hosts in
`apis.TUNNELED_ROUTERS` the fake answers the CONNECT, speaks TLS inside the tunnel with a certificate
signed by its own CA (made when the fake starts, never written to disk by the server), and serves the
requests like any other. gcloud trusts that CA through `CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE` (env.py).
"""

from __future__ import annotations

import datetime
import ssl
import tempfile
from pathlib import Path

CA_NAME = "pmis fake GCP local CA"


class FakeCa:
    """A throwaway CA and one server certificate for the tunneled `hosts`."""

    def __init__(self, hosts: tuple[str, ...]) -> None:
        self.hosts = hosts
        self.ca_pem, chain_pem, key_pem = _issue(hosts)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory(prefix="pmis-fake-gcp-tls-") as directory:
            cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
            key.touch(mode=0o600)
            key.write_text(key_pem)
            cert.write_text(chain_pem)
            self.context.load_cert_chain(cert, key)  # ssl loads certificates from files only

    def serves(self, host: str) -> bool:
        return host in self.hosts


def _issue(hosts: tuple[str, ...]) -> tuple[str, str, str]:
    """(CA certificate, server certificate + CA chain, server key), all PEM; EC P-256 (fast to make)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    start, end = (
        now - datetime.timedelta(days=1),
        now + datetime.timedelta(days=3650),
    )  # a detached fake may run for months
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem).decode()
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return ca_pem, leaf.public_bytes(pem).decode() + ca_pem, key_pem
