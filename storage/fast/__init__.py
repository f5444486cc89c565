"""The fast path, behind one fence: statements run on SQLite's own connection, and rows made
into the session's objects without the ORM's loading.

Its rules (the rest of the code cannot tell it is there):
1. Only here: nothing outside storage/fast/ uses aiosqlite's or SQLAlchemy's internals, and
   nothing outside this fence and delivery/telegram_http.py imports a library's private module
   (tests/test_layering.py checks it).
2. Same statements on both databases: a `Direct` statement is a Core statement; on SQLite it
   runs on the sqlite3 connection of the session's own transaction (direct.py), on PostgreSQL
   through SQLAlchemy Core on the session's connection. tests/storage/test_direct.py runs every
   one on both databases.
3. What the session would do is done here too: a query first flushes what is pending
   (autoflush); an UPDATE or DELETE of issues or outbox rows notes that held objects may be
   stale (notes.py: BULK_CHANGED); an INSERT binds the columns it does not name to their scalar
   defaults; adopted rows are persistent and unchanged, as loading makes them; a statement
   inside a savepoint (`session.begin_nested()`) runs inside it, so the savepoint's rollback
   undoes it (direct.py finds the innermost transaction's connection).
4. SQLite's queries run on the event loop's thread (sqlite_inline.py) and wait for a lock
   without blocking the loop; a statement that could run long does not belong here.
"""
