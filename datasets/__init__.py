"""Importers of public movie datasets (MovieLens releases, TMDb metadata) into the catalog."""


class DatasetError(Exception):
    """Input that cannot be imported; the message names the file (and the line, for a bad row)."""
