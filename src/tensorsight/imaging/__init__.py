"""Safe decoding of untrusted image bytes and preprocessing as a model card describes it.

>>> from tensorsight.imaging import Preprocessing, decode_image  # doctest: +SKIP
>>> image = decode_image(open("photo.jpg", "rb").read())          # doctest: +SKIP
>>> tensor = Preprocessing(size=(64, 64), channels=1).to_tensor(image)  # doctest: +SKIP
"""

from tensorsight.imaging.decode import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, ImageError, decode_image
from tensorsight.imaging.preprocess import Preprocessing

__all__ = ["MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "ImageError", "Preprocessing", "decode_image"]
