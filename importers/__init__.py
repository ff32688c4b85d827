"""Importers: load MovieLens releases and TMDb metadata into the catalog and the users' libraries, and queue a
training afterwards. They stand above everything they write (catalog, users, recommender)."""
