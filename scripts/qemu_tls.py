"""The https side of the QEMU smoke test: a test CA with its server certificates, nginx serving
them in front of httpbin, and an SNTP server, all on 127.0.0.1 (the firmware reaches the host as
10.0.2.2).

Certificates (ECDSA P-256, made fresh for every run with Debian's python3-cryptography):
  good      signed by the test CA, for IP 10.0.2.2, valid now (TLS 1.3 and 1.2)
  tls12     the same certificate, on a server that speaks TLS 1.2 only
  rsa       an RSA-2048 key (RSA-PSS handshake signatures), signed by the test CA, for 10.0.2.2
  named     signed by the test CA, for the DNS name tls.mreq.test only (SNI, name checks)
  wrongname signed by the test CA, for other.example / 10.0.2.99 only
  expired   signed by the test CA, for 10.0.2.2, expired a year ago
  untrusted signed by a second CA that the firmware is never told about
"""
import datetime, os, socket, struct, subprocess, threading, time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
import ipaddress

NTP_UNIX_OFFSET = 2_208_988_800
HOST_IP = "10.0.2.2"
NAMED_HOST = "tls.mreq.test"


def _name(common):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(common):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(common)).issuer_name(_name(common))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _leaf(ca_key, ca_cert, names, not_before, not_after, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    alt = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n) for n in names]
    cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _write(path, *objects):
    with open(path, "wb") as f:
        for obj in objects:
            if isinstance(obj, x509.Certificate):
                f.write(obj.public_bytes(serialization.Encoding.PEM))
            else:
                f.write(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))


def make_certificates(work):
    """Writes ca.pem and one KIND.pem/KIND.key pair per server kind; returns the kinds."""
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    ca_key, ca_cert = _ca("mreq smoke test CA")
    other_key, other_cert = _ca("a CA the firmware does not trust")
    _write(os.path.join(work, "ca.pem"), ca_cert)
    leaves = {
        "good": _leaf(ca_key, ca_cert, [HOST_IP], now - day, now + 30 * day),
        "wrongname": _leaf(ca_key, ca_cert, ["other.example", "10.0.2.99"], now - day, now + 30 * day),
        "expired": _leaf(ca_key, ca_cert, [HOST_IP], now - 400 * day, now - 365 * day),
        "untrusted": _leaf(other_key, other_cert, [HOST_IP], now - day, now + 30 * day),
    }
    leaves["rsa"] = _leaf(ca_key, ca_cert, [HOST_IP], now - day, now + 30 * day,
                          key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    leaves["named"] = _leaf(ca_key, ca_cert, [NAMED_HOST], now - day, now + 30 * day)
    leaves["tls12"] = leaves["good"]
    for kind, (key, cert) in leaves.items():
        _write(os.path.join(work, f"{kind}.pem"), cert)
        _write(os.path.join(work, f"{kind}.key"), key)
    return list(leaves)


def start_nginx(work, kinds, upstream_port, www, free_port, procs):
    """nginx with one TLS port per certificate kind, each proxying to httpbin and serving the
    files in `www` under /files/; returns the ports."""
    d = os.path.join(work, "nginx")
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    ports = {kind: free_port() for kind in kinds}
    servers = "".join(
        f"  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {work}/{kind}.pem; "
        f"ssl_protocols {'TLSv1.2' if kind == 'tls12' else 'TLSv1.2 TLSv1.3'}; "
        f"ssl_certificate_key {work}/{kind}.key; location / {{ proxy_pass http://127.0.0.1:{upstream_port}; "
        f"proxy_set_header Host $http_host; }} location /files/ {{ alias {www}/; }} }}\n"
        for kind, port in ports.items())
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(f"daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n"
                f"events {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n"
                f"  client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n"
                f"  fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n"
                f"  scgi_temp_path {d}/tmp/scgi;\n  keepalive_timeout 5;\n  types {{ application/octet-stream bin; }}\n{servers}}}\n")
    nginx = "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "nginx"
    procs.append(subprocess.Popen([nginx, "-e", f"{d}/error.log", "-p", d, "-c", f"{d}/nginx.conf"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    return ports


class SntpServer:
    """Answers SNTP questions with this machine's clock (stratum 1), on a UDP port of 127.0.0.1."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answered = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                question, peer = self.sock.recvfrom(512)
            except OSError:
                return
            if len(question) < 48 or question[0] & 7 != 3:
                continue
            now = time.time() + NTP_UNIX_OFFSET
            stamp = struct.pack("!II", int(now), int((now % 1) * 2**32))
            # LI 0, version 4, mode 4 (server); stratum 1; originate = the client's transmit time.
            answer = bytes([0x24, 1, 6, 0xEC]) + bytes(8) + b"TEST" + stamp + question[40:48] + stamp + stamp
            self.sock.sendto(answer, peer)
            self.answered += 1

    def close(self):
        self.sock.close()


def closed_udp_port():
    """A UDP port nothing answers on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
