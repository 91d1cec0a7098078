//! region_intersects, the walkers, free-range finders, merge_system_ram_resource (issue 3).
