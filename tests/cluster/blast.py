#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Blast bad input at a quorate node for SECONDS: random UDP payloads,
# truncated and bit-flipped valid frames, frames of another cluster (UDP
# sockets), and raw Ethernet frames with broken IPv4/UDP headers and
# checksums (AF_PACKET on IFACE). Bounded in time and rate; only to the
# node address given (a test host in a namespace the test made).
# Usage: blast.py NODE_IP PORT CLUSTER_ID IFACE NODE_MAC SECONDS
import os, random, socket, struct, sys, time

ip, port, cluster, iface, mac, seconds = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), sys.argv[4], sys.argv[5], float(sys.argv[6])
rnd = random.Random(1234)

def frame(cluster_id, key=b"blast-key", value=b"x"):
    body = struct.pack("<QQIBBBBHB", rnd.getrandbits(64), 0, 100000, 2, 2,
                       0, 0, len(value), len(key)) + key + value
    msg = struct.pack("<BBH", 1, 0, 4 + len(body)) + body
    hdr = struct.pack("<HBBIHHHHQ", 0x5251, 2, 1, cluster_id, 0xffff, 0,
                      0, 0, 0)
    return hdr + msg

def ipsum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind((iface, 0))
src_mac = raw.getsockname()[4]
dst_mac = bytes(int(x, 16) for x in mac.split(":"))
dst_ip = socket.inet_aton(ip)
src_ip = socket.inet_aton("10.77.0.254")

sent = {"random": 0, "truncated": 0, "flipped": 0, "wrong_cluster": 0,
        "raw": 0}
end = time.time() + seconds
while time.time() < end:
    kind = rnd.randrange(5)
    good = frame(cluster)
    if kind == 0:
        udp.sendto(os.urandom(rnd.randrange(0, 1400)), (ip, port))
        sent["random"] += 1
    elif kind == 1:
        udp.sendto(good[:rnd.randrange(0, len(good))], (ip, port))
        sent["truncated"] += 1
    elif kind == 2:
        b = bytearray(good)
        b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        udp.sendto(bytes(b), (ip, port))
        sent["flipped"] += 1
    elif kind == 3:
        udp.sendto(frame(cluster + 1), (ip, port))
        sent["wrong_cluster"] += 1
    else:
        payload = good
        u = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
        tot = 20 + len(u)
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, 1, 0, 64, 17, 0,
                        src_ip, dst_ip)
        h = h[:10] + struct.pack("!H", ipsum(h)) + h[12:]
        pkt = bytearray(dst_mac + src_mac + b"\x08\x00" + h + u)
        # break something: IP checksum, version, length, UDP length/sum
        what = rnd.randrange(5)
        if what == 0:
            pkt[14 + 10] ^= 0xff
        elif what == 1:
            pkt[14] = 0x65
        elif what == 2:
            pkt[14 + 2:14 + 4] = struct.pack("!H", tot + 100)
        elif what == 3:
            pkt[14 + 20 + 4:14 + 20 + 6] = struct.pack("!H", 3)
        else:
            pkt[14 + 20 + 6:14 + 20 + 8] = b"\x12\x34"
        raw.send(bytes(pkt[:rnd.randrange(14, len(pkt) + 1)])
                 if rnd.random() < 0.2 else bytes(pkt))
        sent["raw"] += 1
    time.sleep(0.0002)  # bounded rate: about 5,000 frames/s at most
print("blast: sent", sum(sent.values()), "bad frames:", sent)
