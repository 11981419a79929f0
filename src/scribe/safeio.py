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
that says what the file should have been. NumPy only: nothing here imports torch.
"""

from __future__ import annotations

import pickle
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import defusedxml.ElementTree as defused_et
import numpy as np
from defusedxml import DefusedXmlException
from numpy.lib import format as npy_format

from scribe.errors import ScribeError

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
        raise ScribeError(f"{source}: cannot unpickle the object array ({exc}); {_damaged(what)}") from None
    if type(array) is not np.ndarray or array.dtype != object or array.shape != shape:
        raise ScribeError(f"{source}: the pickle does not hold an object array of shape {shape}; {_damaged(what)}")
    if not all(_is_numeric(element) for element in array.flat):
        raise ScribeError(f"{source}: an element is not a numeric array; {_damaged(what)}")
    return array


def _read_plain_array(
    fp: IO[bytes], shape: tuple[int, ...], fortran: bool, dtype: np.dtype, source: str, what: str
) -> np.ndarray:
    """Read a non-object array body (what ``np.load(allow_pickle=False)`` would accept)."""
    count = int(np.prod(shape, dtype=np.int64))
    data = fp.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ScribeError(f"{source}: the array is truncated; {_damaged(what)}")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def _read_npy(fp: IO[bytes], source: str, what: str) -> np.ndarray:
    """Read one ``.npy`` stream, unpickling object arrays only through the allow-list."""
    try:
        version = npy_format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except _DECODE_ERRORS as exc:
        raise ScribeError(f"{source}: not a valid .npy array ({exc}); {_damaged(what)}") from None
    if dtype.hasobject:
        if dtype != np.dtype(object):
            raise ScribeError(f"{source}: records with object fields are not supported; {_damaged(what)}")
        return _read_object_array(fp, shape, source, what)
    return _read_plain_array(fp, shape, fortran, dtype, source, what)


def npz_member_names(path: Path) -> set[str]:
    """The array names stored in an ``.npz`` (empty when it is not a readable zip).

    Reads only the zip directory, so telling file kinds apart stays cheap and safe.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return {name[: -len(".npy")] for name in archive.namelist() if name.endswith(".npy")}
    except (zipfile.BadZipFile, OSError):
        return set()


def read_npz_safely(path: Path, what: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz``, opened as a zip by hand so pickles never reach ``pickle.load``.

    ``what`` names the kind of file expected ("DeepWriting"), for the error messages.
    """
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as member:
                    arrays[info.filename[: -len(".npy")]] = _read_npy(member, f"{path}: {info.filename}", what)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ScribeError(f"{path}: not a readable .npz archive ({exc}); download the file again") from None
    except OSError as exc:
        reason = exc.strerror or exc
        raise ScribeError(f"{path}: cannot read the file ({reason}); check the path and permissions") from None
    return arrays


def require_keys(arrays: Iterable[str], required: Iterable[str], path: Path, what: str) -> None:
    """Raise a ScribeError naming every required array the file lacks (``arrays``: the names it has)."""
    missing = sorted(set(required) - set(arrays))
    if missing:
        raise ScribeError(f"{path}: missing array(s) {', '.join(missing)}; this is not a {what} file")


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
    try:
        return defused_et.fromstring(data, forbid_dtd=not allow_doctype)
    except DefusedXmlException:
        raise ScribeError(f"{source}: refusing an XML file with DOCTYPE/ENTITY declarations; it is not {expected}") from None
    except ET.ParseError as exc:
        raise ScribeError(f"{source}: malformed XML ({exc}); the file is damaged or not {expected}") from None
