"""`nl2sql-shell proxy`: a PostgreSQL wire-protocol proxy that answers `?` questions.

codec: message framing; auth: the connection's start and the relayed authentication;
bridge: a psycopg connection onto a client's own upstream session, for the pipeline;
questions: what a question is and what the proxy answers; session: one client's pumps;
server: listening, the shared model, cancels; command: the command line.
"""
