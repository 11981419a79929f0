"""Readers for files from outside (downloads, user files) that cannot be turned against the user.

Two formats need care because their standard readers trust their input:

- ``.npz`` archives whose arrays are pickled NumPy object arrays (DeepWriting's):
  ``np.load(allow_pickle=True)`` would let a downloaded file run code, so the
  archive is opened as a zip by hand and pickles go through an allow-list
  unpickler that can rebuild numeric arrays and nothing else;
- XML (IAM-OnDB line files, SVG style files): entity declarations make
  "billion laughs" and external-entity attacks possible, so documents are parsed
  with ``defusedxml``, the standard guard for untrusted XML.

Everything a user can fix is raised as a one-line :class:`~scribe.errors.ScribeError`
that says what the file should have been. Array sizes are checked from the zip
directory and the ``.npy`` header before anything is read, so a header declaring
a terabyte array (or a small zip inflating to gigabytes) costs nothing. NumPy
only: nothing here imports torch.
"""

from __future__ import annotations

import lzma
import math
import os
import pickle
import stat
import sys
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from numpy.lib import format as npy_format

from scribe.errors import ScribeError, reason

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

#: Largest array, in uncompressed bytes, that :func:`read_npz_safely` reads unless told less: 40 times
#: the biggest real one (IAM-OnDB's compact ``points``, 46 MB), far below what a zip bomb inflates to.
MAX_ARRAY_BYTES = 2**31

# --------------------------------------------------------------------------------------
# .npz with pickled object arrays
# --------------------------------------------------------------------------------------


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """Stand-in for ``_codecs.encode``, which protocol-2 pickles use to rebuild bytes.

    Only the latin-1 round trip that pickle itself emits is allowed, so the
    allow-listed global cannot be used to reach other codecs.
    """
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise pickle.UnpicklingError(f"unexpected _codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


def _numpy_pickle_globals() -> dict[tuple[str, str], Any]:
    """The only globals an object array of numeric ndarrays needs, under both NumPy module names.

    The functions are taken from NumPy's own ``__reduce__`` results rather than
    imported by name, so this works on NumPy 1.x (``numpy.core``) and 2.x (``numpy._core``).
    """
    reconstruct = np.empty(0).__reduce__()[0]
    scalar = np.float32(0).__reduce__()[0]
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = reconstruct
        allowed[(module, "scalar")] = scalar
    return allowed


_PICKLE_GLOBALS = _numpy_pickle_globals()


class _NumericArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and nothing else.

    Every global a pickle references goes through :meth:`find_class`; refusing
    all but the allow-list means a hostile file cannot name ``os.system``,
    ``builtins.exec`` or any other callable, so unpickling cannot run code.
    """

    def __init__(self, file: IO[bytes], source: str, what: str) -> None:
        super().__init__(file, encoding="latin1")  # latin1: Python 2 pickles of arrays
        self._source = source
        self._hostile = f"the file may be malicious or not a {what} file"

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise ScribeError(
                f"refusing to unpickle {module}.{name} from {self._source}: not a numeric array; {self._hostile}"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise ScribeError(f"refusing a persistent pickle reference from {self._source}: not a numeric array; {self._hostile}")


# Errors that unpickling or decoding damaged bytes can raise (ScribeError passes through).
_DECODE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    KeyError,
    OverflowError,
    MemoryError,
)


def _damaged(what: str) -> str:
    """The end of every message about a file that does not decode as the ``what`` file it should be."""
    return f"the file is damaged or not a {what} file"


def _is_numeric(array: Any) -> bool:
    """True for a plain ndarray of numbers or booleans (not objects, strings or records)."""
    return (
        type(array) is np.ndarray
        and not array.dtype.hasobject
        and (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_)
    )


def _read_object_array(fp: IO[bytes], shape: tuple[int, ...], source: str, what: str) -> np.ndarray:
    """Unpickle an object array of numeric ndarrays with the allow-list unpickler."""
    try:
        array = _NumericArrayUnpickler(fp, source, what).load()
    except _DECODE_ERRORS as exc:
        raise ScribeError(f"{source}: cannot unpickle the object array ({reason(exc)}); {_damaged(what)}") from None
    if type(array) is not np.ndarray or array.dtype != object or array.shape != shape:
        raise ScribeError(f"{source}: the pickle does not hold an object array of shape {shape}; {_damaged(what)}")
    if not all(_is_numeric(element) for element in array.flat):
        raise ScribeError(f"{source}: an element is not a numeric array; {_damaged(what)}")
    return array


def _read_plain_array(
    fp: IO[bytes], size: int, header: tuple[tuple[int, ...], bool, np.dtype], source: str, what: str
) -> np.ndarray:
    """Read a non-object array body (what ``np.load(allow_pickle=False)`` would accept).

    ``size`` is what the member holds: a header declaring more is refused before
    anything is read or allocated.
    """
    shape, fortran, dtype = header
    nbytes = math.prod(shape) * dtype.itemsize
    if min(shape, default=0) < 0 or nbytes > size:
        raise ScribeError(f"{source}: declares a {shape} array ({nbytes:,} bytes) in {size:,} bytes; {_damaged(what)}")
    data = fp.read(nbytes)
    if len(data) != nbytes:
        raise ScribeError(f"{source}: the array is truncated; {_damaged(what)}")
    try:
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()
    except (ValueError, TypeError) as exc:
        raise ScribeError(f"{source}: not a valid .npy array ({reason(exc)}); {_damaged(what)}") from None


def _read_npy(fp: IO[bytes], size: int, source: str, what: str, objects: bool) -> np.ndarray:
    """Read one ``.npy`` stream of ``size`` bytes; object arrays only through the allow-list, and only if ``objects``."""
    try:
        version = npy_format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except _DECODE_ERRORS as exc:
        raise ScribeError(f"{source}: not a valid .npy array ({reason(exc)}); {_damaged(what)}") from None
    if dtype.hasobject:
        if dtype != np.dtype(object) or not objects:
            raise ScribeError(f"{source}: holds Python objects, which scribe does not unpickle here; {_damaged(what)}")
        return _read_object_array(fp, shape, source, what)
    return _read_plain_array(fp, size, (shape, fortran, dtype), source, what)


def npz_member_names(path: Path) -> set[str]:
    """The array names stored in an ``.npz`` (empty when it is not a readable zip).

    Reads only the zip directory, so telling file kinds apart stays cheap and safe.
    """
    if not _is_regular_file(path):  # a device or FIFO (a link to /dev/zero) would be read without end
        return set()
    try:
        with zipfile.ZipFile(path) as archive:
            return {name[: -len(".npy")] for name in archive.namelist() if name.endswith(".npy")}
    except (zipfile.BadZipFile, OSError):
        return set()


def _is_regular_file(path: Path) -> bool:
    """Whether ``path`` (after links) is a plain file: only those have an end that reading reaches."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def read_npz_safely(
    file: Path | IO[bytes],
    what: str,
    *,
    source: str | None = None,
    keys: Iterable[str] | None = None,
    objects: bool = True,
    max_bytes: int = MAX_ARRAY_BYTES,
) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (those in ``keys``, or all), opened as a zip by hand so pickles never reach ``pickle.load``.

    ``what`` names the kind of file expected ("DeepWriting") and ``source`` the file
    (default: the path), for the error messages. Object arrays are unpickled through
    the allow-list only when ``objects`` is true and refused otherwise (for formats
    that never hold any). An array over ``max_bytes`` uncompressed is refused unread.
    """
    source = str(file) if source is None else source
    if isinstance(file, (str, Path)) and not _is_regular_file(Path(file)):
        raise ScribeError(f"{source} is not a plain file (a device, a pipe, or missing); give the {what} file itself")
    wanted = None if keys is None else set(keys)
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(file) as archive:
            for info in archive.infolist():
                name = info.filename.removesuffix(".npy")
                if name == info.filename or (wanted is not None and name not in wanted):
                    continue
                member = f"{source}: {info.filename}"
                if info.file_size > max_bytes:
                    raise ScribeError(
                        f"{member} is {info.file_size:,} bytes, over the {max_bytes:,} read for one array; {_damaged(what)}"
                    )
                with archive.open(info) as stream:
                    arrays[name] = _read_npy(stream, info.file_size, member, what, objects)
    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise ScribeError(f"{source}: not a readable .npz archive ({reason(exc)}); {_damaged(what)}") from None
    except OSError as exc:
        cause = exc.strerror or reason(exc)
        raise ScribeError(f"{source}: cannot read the file ({cause}); check the path and permissions") from None
    return arrays


def require_keys(arrays: Iterable[str], required: Iterable[str], path: Path, what: str) -> None:
    """Raise a ScribeError naming every required array the file lacks (``arrays``: the names it has)."""
    missing = sorted(set(required) - set(arrays))
    if missing:
        raise ScribeError(f"{path}: missing array(s) {', '.join(missing)}; this is not a {what} file")


# What the dtype kinds that checked_array is asked for mean, in its messages.
_KINDS = {"iuf": "numbers", "iu": "integers", "biu": "integers or booleans", "U": "text"}


def checked_array(array: Any, kinds: str, name: str, what: str, ndim: int | None = None) -> np.ndarray:
    """``array`` when it is a plain ndarray whose dtype kind is in ``kinds`` (a key of ``_KINDS``) with ``ndim`` axes.

    Why: a damaged or hand-made file can hold text, records or floats where
    integers belong, and NumPy would convert many of them silently (or warn).
    Anything else is a ScribeError naming ``name`` (the file and the array).
    """
    if type(array) is not np.ndarray or array.dtype.kind not in kinds or (ndim is not None and array.ndim != ndim):
        found = f"a {array.ndim}-D array of {array.dtype}" if isinstance(array, np.ndarray) else type(array).__name__
        wanted = f"a {ndim}-D array" if ndim is not None else "an array"
        raise ScribeError(f"{name} is {found}, not {wanted} of {_KINDS[kinds]}; {_damaged(what)}")
    return array


def require_finite(array: np.ndarray, name: str, what: str) -> np.ndarray:
    """``array`` when it holds no NaN or infinity: one would turn every figure computed from it into NaN."""
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        raise ScribeError(f"{name} holds NaN or infinite values; {_damaged(what)}")
    return array


# --------------------------------------------------------------------------------------
# XML
# --------------------------------------------------------------------------------------


def parse_xml_safely(data: bytes, source: str, expected: str, *, allow_doctype: bool = False) -> ET.Element:
    """Parse XML from outside with ``defusedxml``: entity declarations and external entities are refused.

    A DOCTYPE without an internal subset only names a DTD, which is never fetched:
    SVG editors write one, so ``allow_doctype`` accepts it. Formats that never
    carry one (IAM-OnDB line files) keep the default and refuse any DOCTYPE.
    ``expected`` names what the file should be, for the error messages.
    """
    # Imported here, as read_toml's parser is: `scribe write` seldom reads XML or TOML,
    # and the parsers were a tenth of its start-up past NumPy and the CLI.
    import xml.etree.ElementTree as ET

    import defusedxml.ElementTree as defused_et
    from defusedxml import DefusedXmlException

    try:
        return defused_et.fromstring(data, forbid_dtd=not allow_doctype)
    except DefusedXmlException:
        raise ScribeError(f"{source}: refusing an XML file with DOCTYPE/ENTITY declarations; it is not {expected}") from None
    except ET.ParseError as exc:
        raise ScribeError(f"{source}: malformed XML ({reason(exc)}); the file is damaged or not {expected}") from None


# --------------------------------------------------------------------------------------
# TOML settings files
# --------------------------------------------------------------------------------------


def read_toml(path: Path, what: str, max_bytes: int) -> dict[str, Any]:
    """A small TOML settings file (a training preset, a plotter profile) as a dict; ``what`` names it in errors."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ScribeError(f"cannot read {what} {path}: {exc.strerror}") from exc
    if len(data) > max_bytes:
        raise ScribeError(f"{what} {path} is over {max_bytes:,} bytes; it should be a few lines of TOML")
    try:
        return dict(tomllib.loads(data.decode("utf-8")))
    except UnicodeDecodeError:
        raise ScribeError(f"{what} {path} is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScribeError(f"{what} {path} is not valid TOML: {exc}") from exc
