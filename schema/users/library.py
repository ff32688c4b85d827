"""Your library in and out of Nexus: `importLibrary` (a file upload, imported by a worker), `importJob` (how it
went) and `me.libraryExport` (the whole library as a file that `importLibrary(source: NEXUS)` reads back)."""

import graphene
from django.utils import timezone
from graphene import relay

from importers.library.nexus_format import export_csv, export_filename, export_json
from schema.core.auth import viewer
from schema.core.errors import permission_denied, refused_as_bad_input
from schema.core.ids import parse_global_id
from schema.core.mutations import BaseMutation
from schema.core.scalars import DateTime, Upload
from users import portability
from users.models import ImportJob


class LibrarySource(graphene.Enum):
    """Where an uploaded library file comes from (docs/library-import-export.md lists the files read)."""

    LETTERBOXD = ImportJob.Source.LETTERBOXD.value
    IMDB = ImportJob.Source.IMDB.value
    TRAKT = ImportJob.Source.TRAKT.value
    NEXUS = ImportJob.Source.NEXUS.value

    @property
    def description(self):
        return {
            "letterboxd": "Letterboxd's export: its ZIP, or ratings.csv, watched.csv or watchlist.csv.",
            "imdb": "IMDb's ratings CSV (Const, Your Rating 1–10, Date Rated, ...) or watchlist CSV.",
            "trakt": "Trakt's export: its ZIP, or ratings-movies.json, watchlist-movies.json or watched-movies.json.",
            "nexus": "Nexus' own export (me.libraryExport), JSON or CSV.",
        }[self.value]


class ImportJobStatus(graphene.Enum):
    """Where an import job is."""

    PENDING = ImportJob.Status.PENDING.value
    RUNNING = ImportJob.Status.RUNNING.value
    DONE = ImportJob.Status.DONE.value
    FAILED = ImportJob.Status.FAILED.value

    @property
    def description(self):
        return {
            "pending": "Queued: a worker has not started it yet.",
            "running": "A worker is importing the file.",
            "done": "Imported: counts and unmatchedRows tell what it did.",
            "failed": "Nothing was imported: failure tells why.",
        }[self.value]


class LibraryExportFormat(graphene.Enum):
    """The file format of a library export."""

    JSON = "json"
    CSV = "csv"

    @property
    def description(self):
        return {"json": "One JSON object (application/json).", "csv": "One CSV table (text/csv)."}[self.value]


class ImportCountsType(graphene.ObjectType):
    """What an import did with the rows of its file: every row read is matched or unmatched; every matched row
    created, updated or left unchanged an entry of your library."""

    read = graphene.Int(
        required=True, description="Rows read (a Nexus export's profile counts as one, and so does each list)."
    )
    matched = graphene.Int(
        required=True, description="Rows matched to a movie of the catalog (or the profile, or a list)."
    )
    created = graphene.Int(required=True, description="New entries: ratings, watchlist entries, viewings, ...")
    updated = graphene.Int(required=True, description="Entries changed: a rating's score, the profile.")
    unchanged = graphene.Int(required=True, description="Rows your library already held as the file has them.")
    unmatched = graphene.Int(required=True, description="Rows no movie of the catalog matched.")

    class Meta:
        name = "ImportCounts"


class UnmatchedRowType(graphene.ObjectType):
    """A row of the imported file that no movie of the catalog matched, and why."""

    line = graphene.Int(required=True, description="Its line in the file (the first line is 1).")
    file = graphene.String(required=True, description="The file of the uploaded archive it is in; empty otherwise.")
    kind = graphene.String(
        required=True, description="rating, watchlist, viewing, favorite, hidden or list_entry (a movie of a list)."
    )
    title = graphene.String(required=True, description="The title the row gives; may be empty.")
    year = graphene.Int(description="The year the row gives.")
    imdb_id = graphene.String(description="The IMDb id the row gives.")
    tmdb_id = graphene.Int(description="The TMDb id the row gives.")
    reason = graphene.String(required=True, description="Why nothing matched.")

    class Meta:
        name = "UnmatchedRow"


class ImportFailureType(graphene.ObjectType):
    """Why an import failed. Nothing of the file was imported."""

    line = graphene.Int(description="The line of the file the failure is about; null for the whole file.")
    reason = graphene.String(required=True, description="What is wrong, with the file and line it is in.")

    class Meta:
        name = "ImportFailure"


class ImportJobType(graphene.ObjectType):
    """One import of a library file, run by a worker. Only its owner can see it: for anyone else `importJob` and
    `node(id:)` answer null, as for an id no job has."""

    source = graphene.Field(LibrarySource, required=True, description="What the file was read as.")
    filename = graphene.String(required=True, description="The uploaded file's name.")
    status = graphene.Field(ImportJobStatus, required=True, description="Where the job is.")
    counts = graphene.Field(
        graphene.NonNull(ImportCountsType), description="What it did with the rows (all 0 until DONE)."
    )
    unmatched_rows = graphene.List(
        graphene.NonNull(UnmatchedRowType),
        required=True,
        description="The rows no movie matched (the first 1000; counts.unmatched has them all), in file order.",
    )
    failure = graphene.Field(ImportFailureType, description="Why it FAILED; null otherwise.")
    created_at = DateTime(required=True, description="When the file was uploaded.")
    started_at = DateTime(description="When a worker started it.")
    finished_at = DateTime(description="When it was DONE or FAILED.")

    class Meta:
        name = "ImportJob"
        interfaces = (relay.Node,)
        possible_types = (ImportJob,)

    @classmethod
    def get_node(cls, info, id):  # noqa: A002 - graphene's name
        return portability.import_job_get(user=viewer(info), job_id=id)

    @staticmethod
    def resolve_source(job, info):
        return str(ImportJob.Source(job.source).value)

    @staticmethod
    def resolve_status(job, info):
        return str(ImportJob.Status(job.status).value)

    @staticmethod
    def resolve_counts(job, info):
        return portability.ImportCounts(
            **{name: getattr(job, f"rows_{name}") for name in vars(portability.ImportCounts())}
        )

    @staticmethod
    def resolve_unmatched_rows(job, info):
        return [
            UnmatchedRowType(**{name: row.get(key) for name, key in _UNMATCHED_KEYS.items()}) for row in job.unmatched
        ]

    @staticmethod
    def resolve_failure(job, info):
        if job.status != ImportJob.Status.FAILED:
            return None
        return ImportFailureType(line=job.error_line, reason=job.error)


_UNMATCHED_KEYS = {
    "line": "line",
    "file": "file",
    "kind": "kind",
    "title": "title",
    "year": "year",
    "imdb_id": "imdbId",
    "tmdb_id": "tmdbId",
    "reason": "reason",
}


class LibraryExportType(graphene.ObjectType):
    """Your whole library as a file: profile, ratings, favorites, watchlist, viewing history, hidden movies and
    your lists (with their movies in order and notes), each movie with its movielensId, tmdbId and imdbId
    (docs/library-import-export.md). `importLibrary(source: NEXUS)` reads it back."""

    filename = graphene.String(required=True, description="A name to save it under.")
    content_type = graphene.String(required=True, description="Its media type.")
    content = graphene.String(required=True, description="The file itself.")

    class Meta:
        name = "LibraryExport"


class ImportLibrary(BaseMutation):
    """Import a library exported by Letterboxd, IMDb, Trakt or Nexus, sent as a file with the GraphQL multipart
    request specification (README, "Your library, portable"). Returns a PENDING job at once: a worker imports the
    file (follow it with importJob). Ratings on 10 points become half stars (n / 2); importing a file again
    changes nothing; a file that cannot be read fails the job and imports nothing."""

    job = graphene.Field(ImportJobType, description="The import, queued; null when there are errors.")
    login_required = True

    class Arguments:
        file = Upload(required=True, description="The exported file (at most NEXUS_UPLOAD_MAX_BYTES, 10 MB).")
        source = LibrarySource(required=True, description="Which service exported it.")

    @classmethod
    def perform(cls, info, file, source):
        source = getattr(source, "value", source)
        job = portability.import_job_create(
            user=info.context.user, source=source, filename=file.name or "", content=file.read()
        )
        return {"job": job}


class LibraryQueries(graphene.ObjectType):
    import_job = graphene.Field(
        ImportJobType,
        id=graphene.ID(required=True, description="The id (ImportJob.id) importLibrary returned."),
        description="One of your imports; null for an id none of your imports has (and when not logged in).",
    )

    @staticmethod
    def resolve_import_job(root, info, id):  # noqa: A002 - the argument's name in the API
        with refused_as_bad_input():
            pk = parse_global_id(id, ImportJobType._meta.name, field="id")
        return portability.import_job_get(user=viewer(info), job_id=pk)


class LibraryMutations(graphene.ObjectType):
    import_library = ImportLibrary.Field()


class LibraryExportField:
    """`User.libraryExport`, mixed into the User type."""

    library_export = graphene.Field(
        graphene.NonNull(LibraryExportType),
        format=LibraryExportFormat(default_value="json", description="JSON (the default) or CSV."),
        description="Your whole library as a file that importLibrary(source: NEXUS) reads back.",
    )

    @staticmethod
    def resolve_library_export(user, info, format="json"):  # noqa: A002 - the argument's name in the API
        caller = viewer(info)
        if caller is None or caller.pk != user.pk:
            raise permission_denied("You can only see your own account.")
        snapshot = portability.library_snapshot(user=user)
        now = timezone.now()
        if getattr(format, "value", format) == "csv":
            name, content_type, content = "csv", "text/csv; charset=utf-8", export_csv(snapshot)
        else:
            name, content_type, content = "json", "application/json", export_json(snapshot, now=now)
        filename = export_filename(snapshot, extension=name, now=now)
        return LibraryExportType(filename=filename, content_type=content_type, content=content)
