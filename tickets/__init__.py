"""The ticket store (工单): one record per call, kept in SQL (SQLite by default, PostgreSQL in production).

``store`` holds the tables and migrations, ``writer`` the durable on-disk spool that lets call handling push
records without ever waiting for the database, ``region`` the caller's region (来电归属地).
"""
