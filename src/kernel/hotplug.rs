//! Memory hotplug (`mm/memory_hotplug.c`) (issue 3).
