"""The acquisition signature: an image's fine structure, its place and its noise, in 389 bytes.

A lossy copy (JPEG, JPEG 2000, fewer bits, half the resolution) keeps the noise and the fine
structure of the image it was made from, exactly where they were; a new acquisition of the
same anatomy, on the same device with the same protocol, does not: its noise is new and the
patient lies a little elsewhere. A perceptual hash of the coarse image (block means against
their median) cannot tell the two apart; this signature can, and ``near`` is decided on it.

After a version byte and the image's rows and columns, it has three parts of :data:`PART`
bytes, each summarising a residual: a grid minus the mean of every inner cell's 3 x 3
neighbourhood. The agreements quoted are those measured on the evaluation's third-party
copies and its population (:mod:`dedup.evaluate`).

* ``structure``: the middle frame reduced to a 128 x 128 grid of area means (a copy at half
  the resolution lands on the same grid); what is left is edges and texture. :data:`BITS`
  signs of random projections (SimHash) estimate the correlation: a lossy or 8-bit copy
  agrees 0.98 and up, a windowed one less (a window changes the contrast); another
  acquisition of the same person, or of a look-alike on the same protocol, up to 0.97.
* ``alignment``: the same grid in 4 x 4 sums (32 x 32 cells), whose residual is the image's
  coarse content; 64 projections of it as a unit vector, kept as numbers (int16), estimate
  ``1 - correlation`` to within a fifth of itself, where a SimHash cannot tell 0.999 from
  0.9999. Cut to 8 bits and compressed at JPEG quality 50, an X-ray keeps its coarse content
  in place to ``1 - correlation`` of 1e-4 at most; another acquisition that passes the
  structure's bar moves it by 1.3e-3 and more (a patient a tenth of a millimetre away by
  3e-4). It backs a structure match where the noise did not survive.
* ``noise``: the central 256 x 256 pixels in 2 x 2 sums (128 x 128 single pixels for images
  of 128 to 255 pixels a side, with projections of their own), the residual clipped at three
  robust standard deviations so that edges cannot dominate it: mostly the acquisition's own
  noise, which a copy of the same size shares (0.6 and up, JPEG 2000 at 20:1 included) and
  a new acquisition does not (0.58 at most). Quantisation coarser than the noise (12 bits cut
  to 8 and then compressed) leaves little of it: 0.22 to 0.5. Smaller images have none
  (the signature is then 261 bytes).

A copy resampled by a power of two (half the size) has no noise in common with its source
but the geometry backs it: its structure need agree less (``copy_partners``). So does a lossy
image with the same exposure record (:mod:`dedup.fingerprint.exposure`) as another stored
otherwise: the record and how the image is stored lossily follow the parts (version 3; a
signature without them is version 2, byte for byte what it was).

Beside the signature, :func:`look_key` gives 64 bits of the coarse image (32 x 32 sums,
normalised): a copy's bits agree with its source's almost everywhere, however its header was
rewritten, so four 16-bit bands of them make candidate pairs by an equi-join
(``look_candidates.sql``), which the signature then verifies.

The projections are separable (``left @ (mask * residual) @ right``: rows of Hadamard
matrices on each side, a random sign mask between), drawn from the raw PCG64 stream of fixed
seeds: the same bits on every machine. Grids are block sums in float32
(:mod:`dedup.fingerprint.grid`), never divided: every comparison is of correlations, which
the scale does not change. An older signature (version 1: 132 or 260 bytes, no version
byte) is refused with :class:`ValueError`; its studies must be indexed again.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dedup.fingerprint.grid import area_sums, block_sums, magnitude, residual
from dedup.fingerprint.layout import (
    ALIGN_DIMS,
    BITS,
    HEAD,
    PART,
    RECORDED,
    UNIT,
    VERSION,
    SignatureSet,
    bit_distances,
    has_noise,
    pair_alignments,
    part,
    set_alignments,
    signature_set,
    words,
)
from dedup.fingerprint.projection import project, projection, simhash

STRUCTURE_GRID, ALIGN_GRID, NOISE_CROP = 128, 32, 256
_CLIP = 3.0
_FLAT = 1e-6  # a residual this small against the grid's values (RMS) is rounding: no detail
LOOK_GRID, LOOK_BITS = 32, 64


#: the structure correlation of each count of differing bits: the same floats as
#: ``np.cos(np.pi * differing / BITS)``, without a cosine per pair
_COSINES = np.cos(np.pi * np.arange(BITS + 1, dtype=np.int32) / BITS)
_SIDE, _ALIGN_SIDE = math.isqrt(BITS), math.isqrt(ALIGN_DIMS)
_STRUCTURE = projection(0x5EED_DE7A11, STRUCTURE_GRID - 2, 2, _SIDE)
_ALIGN = projection(0x5EED_A11C, ALIGN_GRID - 2, 2, _ALIGN_SIDE)
_LOOK = projection(0x5EED_100C, LOOK_GRID, 0, math.isqrt(LOOK_BITS))
#: (crop side, bin) -> projection: one per crop, so noise parts of two sizes never agree
_NOISE = {(NOISE_CROP, 2): projection(0x5EED_0015D, STRUCTURE_GRID - 2, 2, _SIDE),
          (STRUCTURE_GRID, 1): projection(0x5EED_0015F, STRUCTURE_GRID - 2, 2, _SIDE)}


def acquisition(pixels: np.ndarray, record: bytes | None = None, *, lossy: int = 0
                ) -> tuple[bytes | None, int | None]:
    """The signature and the look key of a canonical (frames, rows, cols, samples) array.

    Both are ``None`` for images smaller than 32 x 32 pixels and for a middle frame without
    any detail (uniform, or a smooth gradient). With an exposure ``record``
    (:func:`dedup.fingerprint.exposure.exposure_record`) the signature ends with it and with
    how the image is ``lossy`` (:func:`dedup.fingerprint.exposure.lossy_code`).
    """
    if pixels.ndim != 4:
        return None, None
    frame = pixels[pixels.shape[0] // 2]
    rows, cols = frame.shape[:2]
    if rows < STRUCTURE_GRID // 4 or cols < STRUCTURE_GRID // 4:
        return None, None
    grid, centre, crop = _grids(frame)
    detail = _detail(grid)
    if detail is None:
        return None, None
    noise = b""
    if crop is not None:  # before the structure's projection, which takes its residual
        centred = (detail[0].copy(), detail[1]) if centre is grid else _detail(centre)
        noise = b"" if centred is None else _noise(*centred, crop)
    coarse = block_sums(grid, STRUCTURE_GRID // ALIGN_GRID)
    version, tail = (VERSION, b"") if record is None else (RECORDED, record + bytes([lossy]))
    head = HEAD.pack(version, min(rows, 65535), min(cols, 65535))
    return (head + simhash(detail[0], _STRUCTURE) + _alignment(coarse) + noise + tail,
            look_key(coarse))


def detail_signature(pixels: np.ndarray) -> bytes | None:
    """The acquisition signature alone (see :func:`acquisition`)."""
    return acquisition(pixels)[0]


def look_key(small: np.ndarray) -> int | None:
    """64 sign bits of random projections of a normalised 32 x 32 image, as a signed int."""
    values = small.astype(np.float32)
    mean = float(values.mean())
    if not math.isfinite(mean):
        return None
    values -= mean
    if not values.any():
        return None
    bits = np.packbits(project(values, _LOOK) >= 0)
    return int(np.frombuffer(bits.tobytes(), ">i8")[0])


def similarity(a: bytes, b: bytes) -> float:
    """Estimated correlation of two images' structure (-1..1; a lossy copy is near 1).

    Raises:
        ValueError: a signature is not a dedup acquisition signature of this version.

    """
    return _part_similarity(part(a, 0), part(b, 0))


def alignment(a: bytes, b: bytes) -> float:
    """Estimated correlation of two images' coarse content (a copy's is 0.9999 and up).

    Raises:
        ValueError: a signature is not a dedup acquisition signature of this version.

    """
    return float(set_alignments(signature_set([a]), signature_set([b]))[0, 0])


def noise_similarity(a: bytes, b: bytes) -> float | None:
    """Estimated correlation of two images' noise; ``None`` unless both have one of a size.

    Raises:
        ValueError: a signature is not a dedup acquisition signature of this version.

    """
    if not (has_noise(a) and has_noise(b)) or size_of(a) != size_of(b):
        return None
    return _part_similarity(part(a, 2), part(b, 2))


def size_of(signature: bytes) -> tuple[int, int]:
    """The (rows, columns) of the image a signature was made of.

    Raises:
        ValueError: a signature is not a dedup acquisition signature of this version.

    """
    part(signature, 0)
    _, rows, cols = HEAD.unpack_from(signature)
    return int(rows), int(cols)


@dataclass(frozen=True, slots=True)
class CopyLimits:
    """The least agreement of a copy and its source (``Settings.match_near_*``)."""

    structure: float = 0.95
    noise: float = 0.6
    noise_support: float = 0.45
    resized: float = 0.75  # also two images of one exposure record stored otherwise
    alignment: float = 0.9998


def copy_partners(a: Sequence[bytes] | SignatureSet, b: Sequence[bytes] | SignatureSet,
                  limits: CopyLimits) -> tuple[np.ndarray, np.ndarray]:
    """Which image of ``a`` could be a copy of which of ``b``, and their structure agreement.

    Returns a ``len(a) x len(b)`` mask and the estimated structure correlations it was
    decided on (one comparison serves the verdict and the evidence). Either side may be a
    :func:`signature_set`, for a study compared with many others.

    Two images of one size are copy partners when their noise agrees at least
    ``limits.noise``, or their structure at least ``limits.structure`` backed by the noise
    (at least ``limits.noise_support``) or, where the noise did not survive (a copy cut to
    8 bits, compressed hard), by the alignment of their coarse content (at least
    ``limits.alignment``): an X-ray retaken a fraction of a millimetre away keeps the
    structure but has its own noise and lies elsewhere. One being the other resampled (both
    sides by one power of two), or both having one exposure record and being stored
    otherwise, one lossily, their structure need agree only ``limits.resized``: the
    geometry, which de-identifiers keep, backs the pixels. Images without a comparable noise
    part go by structure alone.

    Raises:
        ValueError: a signature is not a dedup acquisition signature of this version.

    """
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), dtype=bool), np.zeros((len(a), len(b)))
    x, y = signature_set(a), signature_set(b)
    differing = bit_distances(x.structure, y.structure)
    alike = differing <= max_differing_bits(limits.structure)
    resized = _by_size(x, y, _resampled_sizes)
    close = alike | (resized & (differing <= max_differing_bits(limits.resized))) \
        if resized.any() else alike.copy()
    if len(x.noisy) and len(y.noisy):
        whole = len(x.noisy) == len(x) and len(y.noisy) == len(y)
        block = (slice(None), slice(None)) if whole else np.ix_(x.noisy, y.noisy)
        noise = bit_distances(x.noise, y.noise)
        same = _by_size(x, y, _same_sizes)
        same = same[block] if same.ndim else same
        backed = noise <= max_differing_bits(limits.noise_support)
        unsure = np.nonzero(alike[block] & same & ~backed)  # only there does the place count
        backed[unsure] = pair_alignments(x, x.noisy[unsure[0]], y, y.noisy[unsure[1]]
                                          ) >= limits.alignment
        close[block] = np.where(same, (alike[block] & backed)
                                | (noise <= max_differing_bits(limits.noise)), close[block])
    if x.records.any() and y.records.any():
        recorded = ((x.records[:, None] == y.records[None, :]) & (x.records[:, None] != 0)
                    & (x.lossy[:, None] != y.lossy[None, :]))
        close |= recorded & (differing <= max_differing_bits(limits.resized))
    return close, _COSINES[differing]


def max_differing_bits(min_similarity: float) -> int:
    """The most differing bits of one part for a similarity of at least ``min_similarity``."""
    return int(BITS * math.acos(max(-1.0, min(1.0, min_similarity))) / math.pi)


def _by_size(x: SignatureSet, y: SignatureSet,
             test: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """``test`` of every image size of ``x`` against every one of ``y``.

    A study holds a few sizes among hundreds of images: the test runs on the distinct sizes
    (once per pair of size lists: an archive has few) and the answers are spread by index
    (or stay one 0-d answer, if each has one size).
    """
    table = _size_table(test, x.kinds.tobytes(), y.kinds.tobytes())
    if table.size == 1:  # one size each: the answer for every pair (a 0-d array)
        return table.reshape(())
    return table[x.kind[:, None], y.kind[None, :]]


@functools.lru_cache(maxsize=1024)
def _size_table(test: Callable[[np.ndarray, np.ndarray], np.ndarray], x: bytes, y: bytes
                ) -> np.ndarray:
    """``test`` of every size of ``x`` against every one of ``y`` (``kinds`` as bytes)."""
    a, b = (np.frombuffer(kinds, np.int64).reshape(-1, 2) for kinds in (x, y))
    table = test(a[:, None, :], b[None, :, :])
    table.flags.writeable = False  # shared by every caller
    return table


def _same_sizes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b).all(axis=-1)


def _resampled_sizes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether one size is the other scaled by the same power of two on both sides."""
    a_first = (a[..., 0] < b[..., 0]) | ((a[..., 0] == b[..., 0]) & (a[..., 1] <= b[..., 1]))
    small = np.where(a_first[..., None], a, b)
    big = np.where(a_first[..., None], b, a)
    found = np.zeros(a_first.shape, dtype=bool)
    for factor in (2, 4, 8):
        found |= (np.abs(big - factor * small) < factor).all(axis=-1)
    return found


def _part_similarity(a: bytes, b: bytes) -> float:
    return float(np.cos(np.pi * bit_distances(words(a), words(b))[0, 0] / BITS))


def _detail(grid: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The grid's residual and its energy; ``None`` if it is only rounding (no detail)."""
    values = residual(grid)
    energy = float(np.vdot(values, values))
    if not energy > (_FLAT * 9) ** 2 * float(np.vdot(grid, grid)):  # also catches NaN
        return None
    return values, energy


def _alignment(coarse: np.ndarray) -> bytes:
    """The alignment part: int16 projections of the unit coarse residual (zeros if flat)."""
    detail = _detail(coarse)
    if detail is None:
        return bytes(PART)
    values, energy = detail
    sketch = project(values, _ALIGN) * np.float32(UNIT / math.sqrt(energy))
    return np.clip(np.rint(sketch), -32767, 32767).astype(">i2").tobytes()


def _grids(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int] | None]:
    """The structure grid, the noise part's grid and its crop (side, bin) if it has one.

    The noise grid is the central ``side`` pixels in ``bin`` x ``bin`` sums: for a frame of
    that side (256 or 128 pixels square), the structure grid itself.
    """
    rows, cols, samples = frame.shape
    crop = next(((side, b) for side, b in _NOISE if min(rows, cols) >= side), None)
    if crop is None or rows == cols == crop[0]:
        grid = area_sums(frame, STRUCTURE_GRID)
        return grid, grid, crop
    largest = magnitude(frame)  # scanned once for both grids
    grid = area_sums(frame, STRUCTURE_GRID, largest)
    side, binning = crop
    top, left = (rows - side) // 2 // binning * binning, (cols - side) // 2 // binning * binning
    data = frame.reshape(rows, cols * samples)[top:top + side,
                                               left * samples:(left + side) * samples]
    return grid, block_sums(data, binning, binning * samples, largest), crop


def _noise(values: np.ndarray, energy: float, crop: tuple[int, int]) -> bytes:
    """The noise part from a residual of the central pixels, clipped (edges cannot dominate)."""
    sample = np.abs(values.ravel()[::7])
    spread = 1.4826 * float(np.partition(sample, sample.size // 2)[sample.size // 2])
    spread = spread or math.sqrt(energy / values.size)  # mostly flat: the RMS must do
    np.clip(values, -_CLIP * spread, _CLIP * spread, out=values)
    return simhash(values, _NOISE[crop])
