"""The pipeline blueprint, shared by the modules that add pages to it."""

from flask import Blueprint

bp = Blueprint("pipeline", __name__)
