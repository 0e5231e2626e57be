"""The history database's schema as Alembic revisions (``versions/``).

:class:`kubeops.inspect.history.History` runs them itself when it opens a
database, on its own connection and under a database lock; there is no
``alembic.ini`` and no command to run by hand.  The version is kept in
``kubeops_inspect_alembic_version`` so a database shared with an application that
has Alembic migrations of its own keeps both apart.
"""

VERSION_TABLE = "kubeops_inspect_alembic_version"
