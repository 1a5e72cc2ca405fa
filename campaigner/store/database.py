"""The thin database layer: a connection pool, the named queries of `sql/queries/`, and errors.

Every statement campaigner runs is a named block in `sql/queries/<domain>.sql`:

    -- name: claim-jobs
    -- One line on what it serves.
    UPDATE jobs ...;

The blocks are parsed once into a read-only mapping (`queries()`); Python never builds SQL text.
`Database` runs them by name (`execute`, `one`, `all`, `value`) and turns every driver error into a
`campaigner.errors` exception: `DatabaseError` naming host and port (never the password), or
`StateError` when a state-machine trigger refused a transition.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg

from campaigner.config import Config
from campaigner.errors import ConfigError, DatabaseError, StateError

# Shipped inside the package (package data), so an installed campaigner finds them as an editable one.
SQL_DIR: Traversable = resources.files("campaigner") / "sql"
QUERIES_DIR = SQL_DIR / "queries"
MIGRATIONS_DIR = SQL_DIR / "migrations"

# SQLSTATEs raised by our own triggers (sql/migrations/0001_schema.sql).
ILLEGAL_JOB_TRANSITION = "CG001"
ILLEGAL_CAMPAIGN_TRANSITION = "CG002"

_NAME = re.compile(r"^--\s*name:\s*([a-z0-9][a-z0-9-]*)\s*$")


@dataclass(frozen=True, slots=True)
class Query:
    """One named statement: where it came from, what it serves, its text."""

    name: str
    sql: str
    doc: str
    source: str


def parse_queries(text: str, source: str) -> dict[str, Query]:
    """Split a `.sql` file into named queries; a block without a name or a duplicate name is an error."""
    found: dict[str, Query] = {}
    name: str | None = None
    doc: list[str] = []
    body: list[str] = []

    def close() -> None:
        if name is None:
            if "".join(body).strip():
                raise ConfigError(f"{source}: SQL before the first '-- name:' header")
            return
        sql = "\n".join(body).strip()
        if not sql:
            raise ConfigError(f"{source}: query {name} is empty")
        found[name] = Query(name, sql, " ".join(doc), source)

    for line in text.splitlines():
        match = _NAME.match(line.strip())
        if match:
            close()
            name, doc, body = match.group(1), [], []
            if name in found:
                raise ConfigError(f"{source}: query {name} defined twice")
            continue
        if name is not None and not body and line.startswith("--"):
            doc.append(line.lstrip("-").strip())
            continue
        if name is None and (line.startswith("--") or not line.strip()):
            continue  # a file header comment
        body.append(line)
    close()
    return found


@cache
def queries(directory: Traversable = QUERIES_DIR) -> Mapping[str, Query]:
    """Every named query under `directory`, parsed once; names are unique across files.

    A folder with no `.sql` file is an error naming it: an install that lost its package data
    must fail here, not later on the first missing name.
    """
    merged: dict[str, Query] = {}
    files = sql_files(directory)
    if not files:
        raise ConfigError(f"{directory}: no named queries (*.sql) found; is campaigner installed whole?")
    for file in files:
        for name, query in parse_queries(file.read_text(encoding="utf-8"), str(file)).items():
            if name in merged:
                raise ConfigError(f"{file}: query {name} already defined in {merged[name].source}")
            merged[name] = query
    return MappingProxyType(merged)


def sql_files(directory: Traversable) -> list[Traversable]:
    """The `.sql` files directly in `directory`, by name (none when it is missing)."""
    if not directory.is_dir():
        return []
    found = [f for f in directory.iterdir() if f.is_file() and f.name.endswith(".sql")]
    return sorted(found, key=lambda f: f.name)


def sql(name: str) -> str:
    """The text of the named query (a KeyError for an unknown name is a bug, not a user error)."""
    return queries()[name].sql


async def resolve_database_url(config: Config) -> str:
    """The PostgreSQL URL campaigner uses: `CAMPAIGNER_DATABASE_URL`, else `database.url`.

    The one place that decides. With neither set, campaigner's embedded PostgreSQL (under
    `database.data_dir`) is started or joined and kept for the life of the process.
    """
    url = config.database_url()
    if not url:
        # Imported here: only the embedded mode needs it.
        from campaigner.store.embedded.cluster import ensure_embedded

        # Blocking (initdb/pg_ctl, file locks): off the event loop.
        url = await asyncio.to_thread(ensure_embedded, config)
    return url


_URL_SCHEMES = ("postgresql://", "postgres://")
_USERINFO = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_PASSWORD_PARAMETER = re.compile(r"(password=)[^&\s]+", re.IGNORECASE)


def describe_url(url: str) -> str:
    """`host:port/database` of a URL, for messages: never the user's password."""
    if not url.startswith(_URL_SCHEMES):
        return "<a database URL not of the form postgresql://user@host:port/database>"
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        host = unquote(parts.hostname or "") or query.get("host", [""])[0] or "localhost"
        port = parts.port or int(query.get("port", ["5432"])[0])
        database = unquote(parts.path.lstrip("/")) or query.get("dbname", [""])[0]
    except ValueError:
        return "<unparseable database URL>"
    if host.startswith("/"):  # a Unix socket (the embedded server): no TCP port to name
        return f"socket {host} (database {database or 'postgres'})"
    return f"{host}:{port}/{database}" if database else f"{host}:{port}"


def _scrub(text: str, url: str) -> str:
    """Remove the URL's password from a driver message, should the driver ever echo it (also from
    a malformed URL, whose password urlsplit cannot find)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        text = text.replace(password, "***").replace(unquote(password), "***")
    return _PASSWORD_PARAMETER.sub(r"\1***", _USERINFO.sub(r"\1***@", text))


def translate(exc: BaseException, where: str, url: str) -> Exception:
    """A campaigner error for a driver error raised while running `where`."""
    sqlstate = getattr(exc, "sqlstate", None)
    message = _scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, url)
    if sqlstate in (ILLEGAL_JOB_TRANSITION, ILLEGAL_CAMPAIGN_TRANSITION):
        return StateError(message)
    return DatabaseError(f"PostgreSQL at {describe_url(url)}: {where}: {message}")


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool beyond asyncpg's own rollback of an
    open transaction: nothing. asyncpg's default runs `RESET ALL; UNLISTEN *; CLOSE ALL;
    pg_advisory_unlock_all()` after every statement, a second round trip for each one; campaigner
    sets no session state, takes only transaction-scoped advisory locks, closes its cursors with
    their transactions and UNLISTENs before it gives the listening connection back."""


# InternalClientError: a pooled connection whose server went away mid-statement can be left
# "in another operation"; for campaigner that is the database being unavailable, like the others.
_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    asyncio.TimeoutError,
)


class Runner:
    """The query helpers, over the pool (one statement, autocommit) or one connection (a transaction)."""

    def __init__(self, url: str, executor: asyncpg.Pool | asyncpg.Connection) -> None:
        self.url = url
        self._executor = executor

    async def execute(self, name: str, *args: Any) -> str:
        """Run a statement; returns its status tag (e.g. 'UPDATE 3')."""
        try:
            return str(await self._executor.execute(sql(name), *args))
        except _DRIVER_ERRORS as exc:
            raise translate(exc, name, self.url) from None

    async def one(self, name: str, *args: Any) -> asyncpg.Record | None:
        """The first row, or None."""
        try:
            return await self._executor.fetchrow(sql(name), *args)
        except _DRIVER_ERRORS as exc:
            raise translate(exc, name, self.url) from None

    async def all(self, name: str, *args: Any) -> list[asyncpg.Record]:
        """Every row."""
        try:
            return list(await self._executor.fetch(sql(name), *args))
        except _DRIVER_ERRORS as exc:
            raise translate(exc, name, self.url) from None

    async def value(self, name: str, *args: Any) -> Any:
        """The first column of the first row, or None."""
        try:
            return await self._executor.fetchval(sql(name), *args)
        except _DRIVER_ERRORS as exc:
            raise translate(exc, name, self.url) from None


class Transaction(Runner):
    """A runner bound to one connection inside a transaction; also loads rows with COPY."""

    def __init__(self, url: str, conn: asyncpg.Connection) -> None:
        super().__init__(url, conn)
        self.connection = conn

    async def copy_records(
        self, table: str, columns: Sequence[str], records: Iterable[Sequence[Any]]
    ) -> None:
        """COPY `records` into `table` (binary COPY: no SQL text, values never interpolated)."""
        try:
            await self.connection.copy_records_to_table(table, records=records, columns=list(columns))
        except _DRIVER_ERRORS as exc:
            raise translate(exc, f"COPY into {table}", self.url) from None

    async def copy_unique_records(
        self, table: str, columns: Sequence[str], records: Sequence[Sequence[Any]]
    ) -> bool:
        """COPY `records` inside a savepoint; False (and nothing loaded) if one breaks a unique key.

        The caller changes the clashing values and tries again, without losing the transaction."""
        try:
            async with self.connection.transaction():
                await self.connection.copy_records_to_table(table, records=records, columns=list(columns))
        except asyncpg.UniqueViolationError:
            return False
        except _DRIVER_ERRORS as exc:
            raise translate(exc, f"COPY into {table}", self.url) from None
        return True

    async def cursor(self, name: str, *args: Any, prefetch: int = 1000) -> AsyncIterator[asyncpg.Record]:
        """Stream the rows of a query through a server-side cursor."""
        try:
            async for row in self.connection.cursor(sql(name), *args, prefetch=prefetch):
                yield row
        except _DRIVER_ERRORS as exc:
            raise translate(exc, name, self.url) from None

    async def run_script(self, text: str, where: str) -> None:
        """Run a whole SQL file (a migration); only for files under sql/migrations/."""
        try:
            await self.connection.execute(text)
        except _DRIVER_ERRORS as exc:
            raise translate(exc, where, self.url) from None


class Database(Runner):
    """A connection pool to one PostgreSQL database."""

    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        super().__init__(url, pool)
        self.pool = pool

    @classmethod
    async def open(
        cls, url: str, *, min_size: int = 1, max_size: int = 10, connect_timeout: float = 10.0
    ) -> Database:
        """Connect; an unreachable or refusing server is one DatabaseError naming host and port."""
        if not url.startswith(_URL_SCHEMES):
            # Never echoed: a mistyped URL may hold a password where a parser cannot see it.
            raise DatabaseError(
                "the database URL (database.url or CAMPAIGNER_DATABASE_URL) must look like "
                "postgresql://user:password@host:port/database"
            )
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout,
                init=_init_connection,
                reset=_nothing_to_reset,
            )
        except (*_DRIVER_ERRORS, ValueError, OverflowError) as exc:  # OverflowError: port > 65535
            reason = _scrub(str(exc) or type(exc).__name__, url)
            raise DatabaseError(f"cannot connect to PostgreSQL at {describe_url(url)}: {reason}") from None
        return cls(url, pool)

    @classmethod
    async def connect(cls, config: Config) -> Database:
        """Open the pool for `config` (the URL from `resolve_database_url`)."""
        url = await resolve_database_url(config)
        db = config.database
        return await cls.open(
            url, min_size=db.pool_min_size, max_size=db.pool_max_size, connect_timeout=db.connect_timeout
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One connection in one transaction: committed on exit, rolled back on any exception."""
        try:
            conn = await self.pool.acquire()
        except _DRIVER_ERRORS as exc:
            raise translate(exc, "acquire a connection", self.url) from None
        try:
            tx = conn.transaction()
            try:
                await tx.start()
            except _DRIVER_ERRORS as exc:
                raise translate(exc, "begin", self.url) from None
            try:
                yield Transaction(self.url, conn)
            except BaseException:
                # A broken connection has rolled back already; the original error is the one to show.
                with contextlib.suppress(*_DRIVER_ERRORS):
                    await tx.rollback()
                raise
            try:
                await tx.commit()
            except _DRIVER_ERRORS as exc:
                raise translate(exc, "commit", self.url) from None
        finally:
            await self.pool.release(conn)

    @asynccontextmanager
    async def listening(self, channel: str, on_payload: Callable[[str], None]) -> AsyncIterator[None]:
        """Within the block, every NOTIFY on `channel` calls `on_payload` (one pool connection held)."""
        try:
            conn = await self.pool.acquire()
        except _DRIVER_ERRORS as exc:
            raise translate(exc, "acquire a connection", self.url) from None

        def deliver(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            on_payload(payload)

        try:
            await conn.add_listener(channel, deliver)
            yield
        finally:
            with contextlib.suppress(*_DRIVER_ERRORS, asyncpg.InterfaceError):
                await conn.remove_listener(channel, deliver)
            await self.pool.release(conn)

    async def close(self) -> None:
        """Close every connection of the pool."""
        await self.pool.close()
