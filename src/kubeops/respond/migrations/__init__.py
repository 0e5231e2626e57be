"""The respond audit log's schema as Alembic revisions (``versions/``).

:class:`kubeops.respond.audit.AuditLog` runs them itself when it opens a
database, on its own connection and under a database lock
(:meth:`kubeops.config.database.Database.migrate`); there is no ``alembic.ini``
and no command to run by hand.  The version is kept in
``kubeops_respond_alembic_version``, apart from the inspection history's, so one
database can hold both.
"""

VERSION_TABLE = "kubeops_respond_alembic_version"
