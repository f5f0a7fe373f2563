"""The ``changelogs`` command line."""
