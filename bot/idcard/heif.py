"""The luma plane of a HEIC photo, decoded on two threads: the QR reader needs nothing more.

pillow-heif decodes HEVC on one thread and then converts YCbCr to RGB, which we throw away again for
grayscale: a 12-megapixel iPhone photo took ~450 ms, most of the reading time. libheif itself can hand
out the Y plane as decoded and let the codec use its wavefront threads (`num_codec_threads`, decoding
options version 8, libheif 1.21), which pillow-heif does not expose. So we call the libheif that
pillow-heif already loaded, through ctypes. Anything unexpected (older libheif, 10-bit or RGB-coded
image, a decoding error) returns None and the caller uses pillow-heif as before.
"""

from __future__ import annotations

import ctypes

import _pillow_heif
from PIL import Image

CODEC_THREADS = 2  # this server's cores; more threads than cores only adds switching
_YCBCR, _MONOCHROME, _CHANNEL_Y = 0, 2, 0  # heif_colorspace_*, heif_channel_Y


class _Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("subcode", ctypes.c_int), ("message", ctypes.c_char_p)]


class _ColorConversion(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint8), ("downsampling", ctypes.c_int), ("upsampling", ctypes.c_int),
                ("only_preferred", ctypes.c_uint8)]


class _Options(ctypes.Structure):
    """heif_decoding_options up to version 8 (libheif/heif_decoding.h); we only write num_codec_threads."""

    _fields_ = [("version", ctypes.c_uint8), ("ignore_transformations", ctypes.c_uint8),
                ("start_progress", ctypes.c_void_p), ("on_progress", ctypes.c_void_p),
                ("end_progress", ctypes.c_void_p), ("progress_user_data", ctypes.c_void_p),
                ("convert_hdr_to_8bit", ctypes.c_uint8), ("strict_decoding", ctypes.c_uint8),
                ("decoder_id", ctypes.c_char_p), ("color_conversion_options", _ColorConversion),
                ("cancel_decoding", ctypes.c_void_p), ("color_conversion_options_ext", ctypes.c_void_p),
                ("ignore_sequence_editlist", ctypes.c_int), ("output_image_nclx_profile", ctypes.c_void_p),
                ("num_library_threads", ctypes.c_int), ("num_codec_threads", ctypes.c_int)]


def _library() -> ctypes.CDLL | None:
    """libheif's functions as pillow-heif's extension resolves them (whichever libheif it was built with)."""
    P, VOIDP, INT, CHARP = ctypes.POINTER, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    signatures = {
        "heif_context_alloc": (VOIDP, []),
        "heif_context_free": (None, [VOIDP]),
        "heif_context_read_from_memory_without_copy": (_Error, [VOIDP, CHARP, ctypes.c_size_t, VOIDP]),
        "heif_context_get_primary_image_handle": (_Error, [VOIDP, P(VOIDP)]),
        "heif_image_handle_get_width": (INT, [VOIDP]),
        "heif_image_handle_get_height": (INT, [VOIDP]),
        "heif_image_handle_get_luma_bits_per_pixel": (INT, [VOIDP]),
        "heif_image_handle_get_preferred_decoding_colorspace": (_Error, [VOIDP, P(INT), P(INT)]),
        "heif_image_handle_release": (None, [VOIDP]),
        "heif_decoding_options_alloc": (P(_Options), []),
        "heif_decoding_options_free": (None, [P(_Options)]),
        "heif_decode_image": (_Error, [VOIDP, P(VOIDP), INT, INT, P(_Options)]),
        "heif_image_get_width": (INT, [VOIDP, INT]),
        "heif_image_get_height": (INT, [VOIDP, INT]),
        "heif_image_get_plane_readonly": (VOIDP, [VOIDP, INT, P(INT)]),
        "heif_image_release": (None, [VOIDP]),
    }
    try:
        lib = ctypes.CDLL(_pillow_heif.__file__)
        for name, (restype, argtypes) in signatures.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        options = lib.heif_decoding_options_alloc()
        version = options.contents.version
        lib.heif_decoding_options_free(options)
    except (OSError, AttributeError):
        return None
    return lib if version >= 8 else None


_LIB = _library()


def luma(data: bytes, max_pixels: int) -> Image.Image | None:
    """The primary image's Y plane (mode L) with its rotation, mirror and crop applied; None: fall back."""
    lib = _LIB
    if lib is None:
        return None
    ctx, handle, image, options = lib.heif_context_alloc(), ctypes.c_void_p(), ctypes.c_void_p(), None
    try:
        if (lib.heif_context_read_from_memory_without_copy(ctx, data, len(data), None).code
                or lib.heif_context_get_primary_image_handle(ctx, ctypes.byref(handle)).code):
            return None
        if (lib.heif_image_handle_get_width(handle) * lib.heif_image_handle_get_height(handle) > max_pixels
                or lib.heif_image_handle_get_luma_bits_per_pixel(handle) != 8):
            return None
        space, chroma = ctypes.c_int(), ctypes.c_int()
        if (lib.heif_image_handle_get_preferred_decoding_colorspace(handle, ctypes.byref(space),
                                                                    ctypes.byref(chroma)).code
                or space.value not in (_YCBCR, _MONOCHROME)):
            return None
        options = lib.heif_decoding_options_alloc()
        options.contents.num_codec_threads = CODEC_THREADS
        if lib.heif_decode_image(handle, ctypes.byref(image), space, chroma, options).code:
            return None
        stride = ctypes.c_int()
        plane = lib.heif_image_get_plane_readonly(image, _CHANNEL_Y, ctypes.byref(stride))
        size = (lib.heif_image_get_width(image, _CHANNEL_Y), lib.heif_image_get_height(image, _CHANNEL_Y))
        if not plane or min(size) <= 0:
            return None
        pixels = ctypes.string_at(plane, stride.value * size[1])
        return Image.frombuffer("L", size, pixels, "raw", "L", stride.value, 1)
    finally:
        if options:
            lib.heif_decoding_options_free(options)
        if image:
            lib.heif_image_release(image)
        if handle:
            lib.heif_image_handle_release(handle)
        lib.heif_context_free(ctx)
