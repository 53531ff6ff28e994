"""falcon-img: a REST API for images and their comments."""

__version__ = "1.0.0"
