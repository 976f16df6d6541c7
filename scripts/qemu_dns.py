"""A DNS server for the QEMU smoke test: answers A queries for a few test names with 10.0.2.2
(the host as QEMU's user-mode network shows it) and NXDOMAIN for everything else.

The firmware's resolver asks port 53 of the address in its configuration, so this binds
127.0.0.1:53 (QEMU forwards 10.0.2.2:53 there): it needs root, as scripts/test.sh runs.
"""
import socket, struct, threading

HOST_IP = bytes([10, 0, 2, 2])


def _question(packet):
    """The query's name (lower case) and the offset just past its question section."""
    labels, at = [], 12
    while at < len(packet):
        length = packet[at]
        if length == 0:
            return ".".join(labels).lower(), at + 5  # zero byte, QTYPE, QCLASS
        if length & 0xC0:
            return None, None  # no compression in questions
        labels.append(packet[at + 1:at + 1 + length].decode("ascii", "replace"))
        at += 1 + length
    return None, None


class DnsServer:
    def __init__(self, names, port=53):
        self.names = {n.lower() for n in names}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.answered = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                query, peer = self.sock.recvfrom(512)
            except OSError:
                return
            if len(query) < 17 or struct.unpack("!H", query[4:6])[0] != 1:
                continue
            name, end = _question(query)
            if name is None:
                continue
            qtype = struct.unpack("!H", query[end - 4:end - 2])[0]
            known = name in self.names
            answers = 1 if known and qtype == 1 else 0
            # A response with recursion available; NXDOMAIN (3) for unknown names.
            flags = 0x8180 | (0 if known else 3)
            header = query[:2] + struct.pack("!HHHHH", flags, 1, answers, 0, 0)
            reply = header + query[12:end]
            if answers:
                # A pointer to the question's name, type A, class IN, TTL 60, 4 bytes.
                reply += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + HOST_IP
            self.sock.sendto(reply, peer)
            self.answered.append(name)

    def close(self):
        self.sock.close()
