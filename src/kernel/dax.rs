//! dax/kmem (`drivers/dax/kmem.c`) (issue 3).
