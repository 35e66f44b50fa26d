"""Static files in production: whitenoise's compressed, hashed-name storage (each file
served with a far-future cache lifetime, its name changing with its content)."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def hashed_name(self, name, content=None, filename=None):
        try:
            return super().hashed_name(name, content, filename)
        except ValueError:
            # GraphiQL's bundled CSS names a source map its package does not ship; keep such a
            # reference as it is rather than fail collectstatic. Any other missing file fails.
            if name.endswith(".map"):
                return name
            raise
