"""Public movie datasets as files: MovieLens releases in every layout (read, downloaded, or generated at any size).
Pure readers and writers of files: nothing here touches the database; ``importers`` loads what they read."""


class DatasetError(Exception):
    """Input that cannot be imported; the message names the file (and the line, for a bad row)."""
