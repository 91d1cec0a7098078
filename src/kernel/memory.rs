//! Memory blocks (`drivers/base/memory.c`) (issue 3).
