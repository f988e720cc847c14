"""The visits blueprint, shared by the modules that add pages to it."""

from flask import Blueprint

bp = Blueprint("visits", __name__)
