"""Libraries exported by Letterboxd, IMDb, Trakt and Nexus itself, read, matched to the catalog and written into a
user's library (importers.library.run); Nexus' own export format (importers.library.nexus_format)."""
