"""A minimal SoundFont 2 file (one sine sample, one instrument, one preset), built in the test.

Enough for symusic's synthesizer to render notes, so audio rendering is tested without
shipping or downloading a SoundFont. Layout per the SoundFont 2.01 specification.
"""
import struct

import numpy as np


def _chunk(tag: bytes, data: bytes) -> bytes:
    pad = b"\0" if len(data) % 2 else b""
    return tag + struct.pack("<I", len(data)) + data + pad


def _list(kind: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _name(s: str) -> bytes:
    return s.encode("ascii")[:19].ljust(20, b"\0")


def tiny_sf2(path, *, sample_rate: int = 22050) -> None:
    n = 2205  # 0.1 s of a 440 Hz sine, looped
    t = np.arange(n) / sample_rate
    wave = (np.sin(2 * np.pi * 441 * t) * 12000).astype("<i2")   # 441 Hz: 50 samples a period
    smpl = wave.tobytes() + b"\0" * 92                            # 46 zero samples after it
    info = _list(b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)),
                 _chunk(b"isng", b"EMU8000\0"), _chunk(b"INAM", b"tiny\0\0"))
    sdta = _list(b"sdta", _chunk(b"smpl", smpl))
    phdr = (_name("sine") + struct.pack("<HHHIII", 0, 0, 0, 0, 0, 0)
            + _name("EOP") + struct.pack("<HHHIII", 0, 0, 1, 0, 0, 0))
    pbag = struct.pack("<HHHH", 0, 0, 1, 0)
    pmod = b"\0" * 10
    pgen = struct.pack("<HH", 41, 0) + struct.pack("<HH", 0, 0)      # instrument 0
    inst = _name("sine") + struct.pack("<H", 0) + _name("EOI") + struct.pack("<H", 1)
    ibag = struct.pack("<HHHH", 0, 0, 2, 0)
    imod = b"\0" * 10
    igen = (struct.pack("<HH", 54, 1) + struct.pack("<HH", 53, 0)   # loop; sample 0 (last)
            + struct.pack("<HH", 0, 0))
    shdr = (_name("sine") + struct.pack("<IIIIIBbHH", 0, n, 0, n, sample_rate, 69, 0, 0, 1)
            + _name("EOS") + struct.pack("<IIIIIBbHH", 0, 0, 0, 0, 0, 0, 0, 0, 0))
    pdta = _list(b"pdta", _chunk(b"phdr", phdr), _chunk(b"pbag", pbag), _chunk(b"pmod", pmod),
                 _chunk(b"pgen", pgen), _chunk(b"inst", inst), _chunk(b"ibag", ibag),
                 _chunk(b"imod", imod), _chunk(b"igen", igen), _chunk(b"shdr", shdr))
    body = b"sfbk" + info + sdta + pdta
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)
