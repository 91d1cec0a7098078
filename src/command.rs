//! The command language shared by the command line, `-e`, `--script` and the REPL (issues 3, 4).
