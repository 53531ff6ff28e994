"""The WSGI entry point: the one place an app is built from the environment."""

import os

from .app import create_app
from .settings import Settings

app = create_app(Settings.load(environ=os.environ))
