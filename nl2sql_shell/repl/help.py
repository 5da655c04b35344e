"""`\\?` and `\\copyright`: psql 15's help on backslash commands, in its sections and words,
then the commands that are this shell's own. Only commands the shell runs are listed; the
"(currently ...)" parts show this session's settings, as psql's do. `\\? variables` (and
`--help=variables`) is psql's list of specially treated variables, with the same rule: only
the variables, display settings and environment variables the shell honors, then its own."""

from __future__ import annotations

import click

from nl2sql_shell.db.settings import Settings

PSQL_COMMANDS = """General
  \\copyright             show PostgreSQL usage and distribution terms
  \\crosstabview [COLUMNS] execute query and display result in crosstab
  \\errverbose            show most recent error message at maximum verbosity
  \\g [(OPTIONS)] [FILE]  execute query (and send result to file or |pipe);
                         \\g with no arguments is equivalent to a semicolon
  \\gdesc                 describe result of query, without executing it
  \\gexec                 execute query, then execute each value in its result
  \\gset [PREFIX]         execute query and store result in psql variables
  \\gx [(OPTIONS)] [FILE] as \\g, but forces expanded output mode
  \\q                     quit nl2sql-shell
  \\restrict RESTRICT_KEY
                         enter restricted mode with provided key
  \\unrestrict RESTRICT_KEY
                         exit restricted mode if key matches
  \\watch [SEC]           execute query every SEC seconds

Help
  \\? [commands]          show help on backslash commands
  \\? options             show help on nl2sql-shell command-line options
  \\? variables           show help on special variables
  \\h [NAME]              help on syntax of SQL commands, * for all commands

Query Buffer
  \\e [FILE] [LINE]       edit the query buffer (or file) with external editor
  \\ef [FUNCNAME [LINE]]  edit function definition with external editor
  \\ev [VIEWNAME [LINE]]  edit view definition with external editor
  \\p                     show the contents of the query buffer
  \\r                     reset (clear) the query buffer
  \\s [FILE]              display history or save it to file
  \\w FILE                write query buffer to file

Input/Output
  \\copy ...              perform SQL COPY with data stream to the client host
  \\echo [-n] [STRING]    write string to standard output (-n for no newline)
  \\i FILE                execute commands from file
  \\ir FILE               as \\i, but relative to location of current script
  \\o [FILE]              send all query results to file or |pipe
  \\qecho [-n] [STRING]   write string to \\o output stream (-n for no newline)
  \\warn [-n] [STRING]    write string to standard error (-n for no newline)

Conditional
  \\if EXPR               begin conditional block
  \\elif EXPR             alternative within current conditional block
  \\else                  final alternative within current conditional block
  \\endif                 end conditional block

Informational
  (options: S = show system objects, + = additional detail)
  \\d[S+]                 list tables, views, and sequences
  \\d[S+]  NAME           describe table, view, sequence, or index
  \\da[S]  [PATTERN]      list aggregates
  \\dA[+]  [PATTERN]      list access methods
  \\dAc[+] [AMPTRN [TYPEPTRN]]  list operator classes
  \\dAf[+] [AMPTRN [TYPEPTRN]]  list operator families
  \\dAo[+] [AMPTRN [OPFPTRN]]   list operators of operator families
  \\dAp[+] [AMPTRN [OPFPTRN]]   list support functions of operator families
  \\db[+]  [PATTERN]      list tablespaces
  \\dc[S+] [PATTERN]      list conversions
  \\dconfig[+] [PATTERN]  list configuration parameters
  \\dC[+]  [PATTERN]      list casts
  \\dd[S]  [PATTERN]      show object descriptions not displayed elsewhere
  \\dD[S+] [PATTERN]      list domains
  \\ddp    [PATTERN]      list default privileges
  \\dE[S+] [PATTERN]      list foreign tables
  \\des[+] [PATTERN]      list foreign servers
  \\det[+] [PATTERN]      list foreign tables
  \\deu[+] [PATTERN]      list user mappings
  \\dew[+] [PATTERN]      list foreign-data wrappers
  \\df[anptw][S+] [FUNCPTRN [TYPEPTRN ...]]
                         list [only agg/normal/procedure/trigger/window] functions
  \\dF[+]  [PATTERN]      list text search configurations
  \\dFd[+] [PATTERN]      list text search dictionaries
  \\dFp[+] [PATTERN]      list text search parsers
  \\dFt[+] [PATTERN]      list text search templates
  \\dg[S+] [PATTERN]      list roles
  \\di[S+] [PATTERN]      list indexes
  \\dl[+]                 list large objects, same as \\lo_list
  \\dL[S+] [PATTERN]      list procedural languages
  \\dm[S+] [PATTERN]      list materialized views
  \\dn[S+] [PATTERN]      list schemas
  \\do[S+] [OPPTRN [TYPEPTRN [TYPEPTRN]]]
                         list operators
  \\dO[S+] [PATTERN]      list collations
  \\dp     [PATTERN]      list table, view, and sequence access privileges
  \\dP[itn+] [PATTERN]    list [only index/table] partitioned relations [n=nested]
  \\drds [ROLEPTRN [DBPTRN]] list per-database role settings
  \\dRp[+] [PATTERN]      list replication publications
  \\dRs[+] [PATTERN]      list replication subscriptions
  \\ds[S+] [PATTERN]      list sequences
  \\dt[S+] [PATTERN]      list tables
  \\dT[S+] [PATTERN]      list data types
  \\du[S+] [PATTERN]      list roles
  \\dv[S+] [PATTERN]      list views
  \\dx[+]  [PATTERN]      list extensions
  \\dX     [PATTERN]      list extended statistics
  \\dy[+]  [PATTERN]      list event triggers
  \\l[+]   [PATTERN]      list databases
  \\sf[+]  FUNCNAME       show a function's definition
  \\sv[+]  VIEWNAME       show a view's definition
  \\z      [PATTERN]      same as \\dp

Large Objects
  \\lo_export LOBOID FILE write large object to file
  \\lo_import FILE [COMMENT]
                         read large object from file
  \\lo_list[+]            list large objects
  \\lo_unlink LOBOID      delete a large object

Formatting
  \\a                     toggle between unaligned and aligned output mode
  \\C [STRING]            set table title, or unset if none
  \\f [STRING]            show or set field separator for unaligned query output
  \\H                     toggle HTML output mode (currently {html})
  \\pset [NAME [VALUE]]   set table output option
                         (border|columns|csv_fieldsep|expanded|fieldsep|
                         fieldsep_zero|footer|format|linestyle|null|
                         numericlocale|pager|pager_min_lines|recordsep|
                         recordsep_zero|tableattr|title|tuples_only|
                         unicode_border_linestyle|unicode_column_linestyle|
                         unicode_header_linestyle)
  \\t [on|off]            show only rows (currently {tuples_only})
  \\T [STRING]            set HTML <table> tag attributes, or unset if none
  \\x [on|off|auto]       toggle expanded output (currently {expanded})

Connection
  \\c[onnect] {[DBNAME|- USER|- HOST|- PORT|-] | conninfo}
                         connect to new database (currently {database})
  \\conninfo              display information about current connection
  \\encoding [ENCODING]   show or set client encoding
  \\password [USERNAME]   securely change the password for a user

Operating System
  \\cd [DIR]              change the current working directory
  \\getenv PSQLVAR ENVVAR fetch environment variable
  \\setenv NAME [VALUE]   set or unset environment variable
  \\timing [on|off]       toggle timing of commands (currently {timing})
  \\! [COMMAND]           execute command in shell or start interactive shell

Variables
  \\prompt [TEXT] NAME    prompt user to set internal variable
  \\set [NAME [VALUE]]    set internal variable, or list all if no parameters
  \\unset NAME            unset (delete) internal variable
"""

OURS = """Questions (nl2sql-shell)
  ? QUESTION             ask the model for SQL that answers QUESTION (shown; Enter runs
                         a read proven harmless, anything else needs yes)
  ?+ QUESTION            the same, and show which tables the model was given
  ?! QUESTION            ask even when no table, column or value matches its words
  \\explain-last          show how the last question was answered (tables, attempts)
  \\examples [add QUESTION => SQL]
                         list (or add) the question/SQL pairs offered to the model
  \\refresh               re-read the schema (completion and ? questions)
"""

# psql 15's `\\? variables` (help.c's helpVariables), less HISTFILE and PSQL_HISTORY, which the
# shell does not read (its history file is NL2SQL_SHELL_HISTORY's, below); the usage lines name
# this program.
PSQL_VARIABLES = """List of specially treated variables

psql variables:
Usage:
  nl2sql-shell --set=NAME=VALUE
  or \\set NAME VALUE inside nl2sql-shell

  AUTOCOMMIT
    if set, successful SQL commands are automatically committed
  COMP_KEYWORD_CASE
    determines the case used to complete SQL key words
    [lower, upper, preserve-lower, preserve-upper]
  DBNAME
    the currently connected database name
  ECHO
    controls what input is written to standard output
    [all, errors, none, queries]
  ECHO_HIDDEN
    if set, display internal queries executed by backslash commands;
    if set to "noexec", just show them without execution
  ENCODING
    current client character set encoding
  ERROR
    true if last query failed, else false
  FETCH_COUNT
    the number of result rows to fetch and display at a time (0 = unlimited)
  HIDE_TABLEAM
    if set, table access methods are not displayed
  HIDE_TOAST_COMPRESSION
    if set, compression methods are not displayed
  HISTCONTROL
    controls command history [ignorespace, ignoredups, ignoreboth]
  HISTSIZE
    maximum number of commands to store in the command history
  HOST
    the currently connected database server host
  IGNOREEOF
    number of EOFs needed to terminate an interactive session
  LASTOID
    value of the last affected OID
  LAST_ERROR_MESSAGE
  LAST_ERROR_SQLSTATE
    message and SQLSTATE of last error, or empty string and "00000" if none
  ON_ERROR_ROLLBACK
    if set, an error doesn't stop a transaction (uses implicit savepoints)
  ON_ERROR_STOP
    stop batch execution after error
  PORT
    server port of the current connection
  PROMPT1
    specifies the standard psql prompt
  PROMPT2
    specifies the prompt used when a statement continues from a previous line
  PROMPT3
    specifies the prompt used during COPY ... FROM STDIN
  QUIET
    run quietly (same as -q option)
  ROW_COUNT
    number of rows returned or affected by last query, or 0
  SERVER_VERSION_NAME
  SERVER_VERSION_NUM
    server's version (in short string or numeric format)
  SHOW_ALL_RESULTS
    show all results of a combined query (\\;) instead of only the last
  SHOW_CONTEXT
    controls display of message context fields [never, errors, always]
  SINGLELINE
    if set, end of line terminates SQL commands (same as -S option)
  SINGLESTEP
    single-step mode (same as -s option)
  SQLSTATE
    SQLSTATE of last query, or "00000" if no error
  USER
    the currently connected database user
  VERBOSITY
    controls verbosity of error reports [default, verbose, terse, sqlstate]
  VERSION
  VERSION_NAME
  VERSION_NUM
    psql's version (in verbose string, short string, or numeric format)

Display settings:
Usage:
  nl2sql-shell --pset=NAME[=VALUE]
  or \\pset NAME [VALUE] inside nl2sql-shell

  border
    border style (number)
  columns
    target width for the wrapped format
  csv_fieldsep
    field separator for CSV output format (default ",")
  expanded (or x)
    expanded output [on, off, auto]
  fieldsep
    field separator for unaligned output (default "|")
  fieldsep_zero
    set field separator for unaligned output to a zero byte
  footer
    enable or disable display of the table footer [on, off]
  format
    set output format [unaligned, aligned, wrapped, html, asciidoc, ...]
  linestyle
    set the border line drawing style [ascii, old-ascii, unicode]
  null
    set the string to be printed in place of a null value
  numericlocale
    enable display of a locale-specific character to separate groups of digits
  pager
    control when an external pager is used [yes, no, always]
  recordsep
    record (line) separator for unaligned output
  recordsep_zero
    set record separator for unaligned output to a zero byte
  tableattr (or T)
    specify attributes for table tag in html format, or proportional
    column widths for left-aligned data types in latex-longtable format
  title
    set the table title for subsequently printed tables
  tuples_only
    if set, only actual table data is shown
  unicode_border_linestyle
  unicode_column_linestyle
  unicode_header_linestyle
    set the style of Unicode line drawing [single, double]

Environment variables:
Usage:
  NAME=VALUE [NAME=VALUE] nl2sql-shell ...
  or \\setenv NAME [VALUE] inside nl2sql-shell

  COLUMNS
    number of columns for wrapped format
  PGAPPNAME
    same as the application_name connection parameter
  PGDATABASE
    same as the dbname connection parameter
  PGHOST
    same as the host connection parameter
  PGPASSFILE
    password file name
  PGPASSWORD
    connection password (not recommended)
  PGPORT
    same as the port connection parameter
  PGUSER
    same as the user connection parameter
  PSQL_EDITOR, EDITOR, VISUAL
    editor used by the \\e, \\ef, and \\ev commands
  PSQL_EDITOR_LINENUMBER_ARG
    how to specify a line number when invoking the editor
  PSQL_PAGER, PAGER
    name of external pager program
  PSQL_WATCH_PAGER
    name of external pager program used for \\watch
  PSQLRC
    alternative location for the user's .psqlrc file
  SHELL
    shell used by the \\! command
  TMPDIR
    directory for temporary files
"""

OUR_VARIABLES = """Environment variables (nl2sql-shell):
  NL2SQL_SHELL_API_KEY, OPENAI_API_KEY
    API key sent to the --model-url server
  NL2SQL_SHELL_CACHE
    folder for converted models and adapters (default ~/.cache/nl2sql-shell)
  NL2SQL_SHELL_CONFIG
    alternative location for the configuration file
  NL2SQL_SHELL_DATA_DIR
    data folder of the embedded PostgreSQL server
  NL2SQL_SHELL_EXAMPLES_DIR
    folder of the question/SQL examples kept per database (\\examples)
  NL2SQL_SHELL_HISTORY
    alternative location for the command history file
"""

# What psql's \\copyright prints: the terms of the PostgreSQL it speaks to.
# psql's answer to "help" typed alone at the prompt, with the shell's own way to ask
ASSISTANCE = """You are using nl2sql-shell, the command-line interface to PostgreSQL with a text-to-SQL model inside.
Type:  \\copyright for distribution terms
       \\h for help with SQL commands
       \\? for help with nl2sql-shell commands
       \\g or terminate with semicolon to execute query
       ? QUESTION to have the model write a query
       \\q to quit
"""

COPYRIGHT = """PostgreSQL Database Management System
(also known as Postgres, formerly known as Postgres95)

Portions Copyright (c) 1996-2022, PostgreSQL Global Development Group

Portions Copyright (c) 1994, The Regents of the University of California

Permission to use, copy, modify, and distribute this software and its
documentation for any purpose, without fee, and without a written agreement
is hereby granted, provided that the above copyright notice and this
paragraph and the following two paragraphs appear in all copies.

IN NO EVENT SHALL THE UNIVERSITY OF CALIFORNIA BE LIABLE TO ANY PARTY FOR
DIRECT, INDIRECT, SPECIAL, INCIDENTAL, OR CONSEQUENTIAL DAMAGES, INCLUDING
LOST PROFITS, ARISING OUT OF THE USE OF THIS SOFTWARE AND ITS
DOCUMENTATION, EVEN IF THE UNIVERSITY OF CALIFORNIA HAS BEEN ADVISED OF THE
POSSIBILITY OF SUCH DAMAGE.

THE UNIVERSITY OF CALIFORNIA SPECIFICALLY DISCLAIMS ANY WARRANTIES,
INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY
AND FITNESS FOR A PARTICULAR PURPOSE.  THE SOFTWARE PROVIDED HEREUNDER IS
ON AN "AS IS" BASIS, AND THE UNIVERSITY OF CALIFORNIA HAS NO OBLIGATIONS TO
PROVIDE MAINTENANCE, SUPPORT, UPDATES, ENHANCEMENTS, OR MODIFICATIONS.

"""


def backslash_help(settings: Settings, database: str | None) -> str:
    """`\\?`'s text; ``database``: the connected one's name, None when there is no connection
    (after a failed `\\c` in a script, or for `--help=commands`), which psql says in words."""
    current = {
        "{html}": "on" if settings.format == "html" else "off",
        "{tuples_only}": "on" if settings.tuples_only else "off",
        "{expanded}": {"on": "on", "off": "off", "auto": "auto"}[settings.expanded],
        "{timing}": "on" if settings.timing else "off",
        "{database}": "no connection" if database is None else f'"{database}"',
    }
    text = PSQL_COMMANDS
    for marker, value in current.items():
        text = text.replace(marker, value)
    return text + "\n" + OURS


def topic_help(topic: str, settings: Settings, database: str | None) -> str | None:
    """psql's help topics, for `\\? TOPIC` and `--help=TOPIC`; None for a topic psql has not
    (which `\\?` answers with its commands and the command line refuses). "options" is what
    --help printed for this run: psql's is its own command-line help."""
    if topic == "options":
        return click.get_current_context().get_help() + "\n"
    if topic == "commands":
        return backslash_help(settings, database)
    if topic == "variables":
        return PSQL_VARIABLES + "\n" + OUR_VARIABLES
    return None
