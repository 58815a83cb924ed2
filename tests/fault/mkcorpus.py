#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz harnesses (tests/fault/corpus/<name>/).
Frames follow src/comm/bootstrap.c: a 40-byte header {u32 magic "SNBS",
u32 type, u64 secret[2], i32 src, u32 tag, u32 len, u32 arg} then len bytes;
an address is a 28-byte sockaddr_in6-sized union. Run from tests/fault/;
files the fuzzer found are added next to these by hand (crash-*, slow-*)."""
import os, shutil, struct

def w(name, fn, data):
    d = os.path.join('corpus', name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fn), 'wb') as f:
        f.write(data)

SEC = b'\0' * 16   # the harnesses patch the job's secret in
def hdr(typ, src=0, tag=0, ln=0, arg=0, magic=0x534e4253):
    return struct.pack('<II16siIII', magic, typ, SEC, src, tag, ln, arg)
def addr4(port=1234):
    return struct.pack('<H', 2) + struct.pack('>H', port) + bytes([127, 0, 0, 1]) + b'\0' * 20
A = 28

# the root: flag byte then one connection's bytes
w('bsroot', 'hello-2ranks-r0', b'\x01' + hdr(1, 0, 0, A, 2) + addr4())
w('bsroot', 'hello-2ranks-r1', b'\x01' + hdr(1, 1, 0, A, 2) + addr4())
w('bsroot', 'hello-1rank', b'\x03' + hdr(1, 0, 0, A, 1) + addr4())
w('bsroot', 'hello-out-of-range', b'\x01' + hdr(1, 7, 0, A, 2) + addr4())
w('bsroot', 'hello-negative-rank', b'\x01' + hdr(1, -1, 0, A, 2) + addr4())
w('bsroot', 'hello-nranks-mismatch', b'\x01' + hdr(1, 0, 0, A, 3) + addr4())
w('bsroot', 'hello-nranks-zero', b'\x01' + hdr(1, 0, 0, A, 0) + addr4())
w('bsroot', 'hello-nranks-huge', b'\x01' + hdr(1, 0, 0, A, 0x7fffffff) + addr4())
w('bsroot', 'hello-wrong-secret', b'\x00' + hdr(1, 0, 0, A, 2) + addr4())
w('bsroot', 'hello-short', b'\x03' + hdr(1, 0, 0, A, 2) + addr4()[:10])
w('bsroot', 'hello-long-len', b'\x01' + hdr(1, 0, 0, 1 << 30, 2) + addr4())
w('bsroot', 'table-to-root', b'\x01' + hdr(2, 0, 0, A, 1) + addr4())
w('bsroot', 'bad-magic', b'\x01' + hdr(1, 0, 0, A, 2, magic=0x47455420) + addr4())
w('bsroot', 'http-get', b'\x02GET / HTTP/1.0\r\n\r\n')
w('bsroot', 'empty', b'\x02')

# a rank: mode/patch byte, nranks-1 or tag, expected length, peer's bytes
def table(n):
    return hdr(2, -1, 0, A * n, n) + addr4(1000) * n
w('bsrank', 'root-table-1', b'\x02\x00\x00' + table(1))
w('bsrank', 'root-table-2', b'\x02\x01\x00' + table(2))
w('bsrank', 'root-table-short', b'\x02\x01\x00' + table(2)[:-5])
w('bsrank', 'root-table-wrong-size', b'\x02\x02\x00' + table(2))
msg = b'bootstrap root: rank 0 joined twice\0'
w('bsrank', 'root-error', b'\x02\x01\x00' + hdr(3, -1, 0, len(msg)) + msg)
w('bsrank', 'root-error-huge', b'\x02\x01\x00' + hdr(3, -1, 0, 1 << 20) + msg)
w('bsrank', 'root-wrong-secret', b'\x00\x00\x00' + table(1))
w('bsrank', 'root-garbage', b'\x00\x00\x00' + os.urandom(0) + b'\xde\xad\xbe\xef' * 20)
hello = hdr(4, 1, 0, 0)
w('bsrank', 'p2p-msg', b'\x03\x01\x08' + hello + hdr(5, 1, 1, 8) + b'ABCDEFGH')
w('bsrank', 'p2p-stash', b'\x03\x09\x08' + hello + hdr(5, 1, 2, 8) + b'BBBBBBBB' + hdr(5, 1, 1, 8) + b'AAAAAAAA')
w('bsrank', 'p2p-wrong-len', b'\x03\x01\x08' + hello + hdr(5, 1, 1, 4) + b'ABCD')
w('bsrank', 'p2p-wrong-src', b'\x03\x01\x08' + hdr(4, 5, 0, 0) + hdr(5, 1, 1, 8) + b'ABCDEFGH')
w('bsrank', 'p2p-msg-before-hello', b'\x03\x01\x08' + hdr(5, 1, 1, 8) + b'ABCDEFGH')
w('bsrank', 'p2p-hello-len', b'\x03\x01\x08' + hdr(4, 1, 0, 8) + b'ABCDEFGH')
w('bsrank', 'p2p-truncated', b'\x03\x01\x08' + hello + hdr(5, 1, 1, 8) + b'ABC')

# unique ids: 128 bytes, then nranks, rank
def uid(magic=0x534e4955, ver=2, fam=2, port=1, tail=b''):
    a = struct.pack('<H', fam) + struct.pack('>H', port) + bytes([127, 0, 0, 1]) + b'\0' * 20
    b = struct.pack('<II', magic, ver) + b'S' * 16 + a
    return b + b'\0' * (128 - len(b)) + tail
w('uid', 'ok-v4', uid())
w('uid', 'ok-v6', uid(fam=10))
w('uid', 'bad-magic', uid(magic=0))
w('uid', 'old-version', uid(ver=1))
w('uid', 'family-unix', uid(fam=1))
w('uid', 'family-zero', uid(fam=0))
w('uid', 'family-junk', uid(fam=0x4141))
w('uid', 'nranks-0', uid(tail=b'\x00\x00'))
w('uid', 'nranks-1', uid(tail=b'\x01\x00'))
w('uid', 'rank-negative', uid(tail=b'\x02\xff'))
w('uid', 'rank-too-big', uid(tail=b'\x02\x02'))
w('uid', 'zeros', b'\0' * 128)

# topology files
os.makedirs('corpus/topo', exist_ok=True)
for f in sorted(os.listdir('../../topo/examples')):
    shutil.copy(os.path.join('../../topo/examples', f), os.path.join('corpus', 'topo', f))
w('topo', 'shape-small', b'fabric x\nclass a latency_us=1 bandwidth_GBps=1\nlinks intra_host=a intra_domain=a inter_domain=a\nshape domains=1 hosts_per_domain=1 ranks_per_host=2\n')
w('topo', 'explicit', b'fabric y\nclass a latency_us=1 bandwidth_GBps=1\nlinks intra_host=a intra_domain=a inter_domain=a\nhost h0 domain=0\nhost h1 domain=1\nrank 0 host=h0\nrank 1 host=h1\n')
w('topo', 'empty', b'')
w('topo', 'garbage', b'\xff\xfe\x00fabric\n\n#\nclass\n')
w('topo', 'huge-shape', b'fabric z\nshape domains=100000 hosts_per_domain=100000 ranks_per_host=100000\n')

# environment values: selector byte then the value
for i, v in enumerate([b'\x00ring,direct', b'\x00^direct', b'\x00allreduce:direct;ring', b'\x00allreduce:;:;;',
                       b'\x00' + b'ring,' * 100, b'\x01^lo,docker\nlo', b'\x01=eth0\neth0', b'\x01\neth0',
                       b'\x01' + b'x' * 600 + b'\nx', b'\x02127.0.0.1:1234', b'\x02[::1]:80', b'\x02[::1]',
                       b'\x021.2.3.4:99999', b'\x02:', b'\x0312345', b'\x030x10', b'\x03-1', b'\x03abc',
                       b'\x039999999999999999999999', b'\x03']):
    w('env', 'seed-%02d' % i, v)
